using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// Every process's connection string turns Npgsql's automatic preparation off and skips the reset on close, whatever the
/// configured string says: automatic preparation puts the next request out of step after a failed bind
/// (when_a_prepared_statement_fails_to_bind), and the reset is a DISCARD ALL transaction of its own on every reuse
/// (NotificationStore.PooledConnectionString).
/// </summary>
public sealed class when_connection_strings_are_pooled
{
    [Fact]
    public void automatic_preparation_and_the_reset_on_close_are_forced_off()
    {
        var built = new NpgsqlConnectionStringBuilder(NotificationStore.PooledConnectionString(
            "Host=127.0.0.1;Port=27432;Database=postgres;Username=postgres;Max Auto Prepare=20;No Reset On Close=false", "1.1"));
        Assert.Equal(0, built.MaxAutoPrepare);
        Assert.True(built.NoResetOnClose);
    }
}
