using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// Every connection starts with random_page_cost 1.1 unless NS_RANDOM_PAGE_COST says otherwise; empty sends no startup
/// option at all (PgBouncer refuses unknown ones), so the server's or role's value holds.
/// </summary>
public sealed class when_connections_set_random_page_cost
{
    private static readonly string Postgres = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
                                              ?? "Host=127.0.0.1;Port=27432;Database=postgres;Username=postgres";

    private static async Task<string> ShownAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SHOW random_page_cost", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<string> ServerValueAsync()
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Postgres) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT reset_val FROM pg_settings WHERE name = 'random_page_cost'", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task the_default_is_one_point_one_on_the_connection()
    {
        Assert.Contains("random_page_cost=1.1", new NpgsqlConnectionStringBuilder(NotificationStore.PooledConnectionString(Postgres, "1.1")).Options);
        Assert.Equal("1.1", await ShownAsync(NotificationStore.PooledConnectionString(Postgres, "1.1")));
    }

    [Fact]
    public async Task another_value_is_sent_as_given()
    {
        Assert.Equal("2.5", await ShownAsync(NotificationStore.PooledConnectionString(Postgres, "2.5")));
    }

    [Fact]
    public async Task empty_sends_no_option_and_the_servers_value_holds()
    {
        var pooled = NotificationStore.PooledConnectionString(Postgres, "");
        Assert.True(string.IsNullOrEmpty(new NpgsqlConnectionStringBuilder(pooled).Options));
        Assert.Equal(await ServerValueAsync(), await ShownAsync(pooled));
    }

    [Fact]
    public void a_value_that_is_not_a_positive_number_is_refused_at_start_up()
    {
        Assert.Throws<InvalidOperationException>(() => NotificationStore.PooledConnectionString(Postgres, "1.1; drop"));
        Assert.Throws<InvalidOperationException>(() => NotificationStore.PooledConnectionString(Postgres, "-1"));
    }
}
