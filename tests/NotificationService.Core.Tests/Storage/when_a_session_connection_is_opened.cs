using System.Diagnostics;
using JasperFx;
using Marten;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// The SQL the core writes itself (counts, the reconciler's search, liveness, retention) runs on its session's connection,
/// opened by SessionConnection.OpenConnectionAsync. Marten's Connection getter opens it synchronously, so with every pooled
/// connection taken a request waited, blocking its thread, until the pool's Timeout, whatever cancelled it meanwhile.
/// Here the pool has one connection, held by the test.
/// </summary>
public sealed class when_a_session_connection_is_opened : IDisposable
{
    private const int PoolTimeoutSeconds = 4;

    private readonly DocumentStore _store = DocumentStore.For(opts =>
    {
        opts.UseNotificationStore($"{ScratchTable.Postgres};Maximum Pool Size=1;Timeout={PoolTimeoutSeconds}");
        // The service's schema, which the shared system's fixture drops and migrates beside this class: never changed here.
        opts.AutoCreateSchemaObjects = AutoCreate.None;
    });

    [Fact]
    public async Task opening_it_asynchronously_gives_a_usable_connection()
    {
        await using var session = _store.QuerySession();
        var connection = await session.OpenConnectionAsync(CancellationToken.None);

        Assert.Equal(System.Data.ConnectionState.Open, connection.State);
        Assert.Same(connection, session.Connection);
        await using var command = new NpgsqlCommand("SELECT 41 + 1", connection);
        Assert.Equal(42, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task a_wait_for_a_pooled_connection_ends_when_the_request_is_cancelled()
    {
        await using var holder = _store.QuerySession();
        await holder.OpenConnectionAsync(CancellationToken.None); // the pool's only connection

        await using var waiting = _store.QuerySession();
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting.OpenConnectionAsync(cancelled.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(PoolTimeoutSeconds - 1), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task martens_getter_waits_out_the_pool_timeout_instead()
    {
        await using var holder = _store.QuerySession();
        await holder.OpenConnectionAsync(CancellationToken.None);

        await using var waiting = _store.QuerySession();
        var clock = Stopwatch.StartNew();
        // What the core did before: the getter, on a thread of the pool, with no way to pass the request's cancellation.
        await Assert.ThrowsAsync<NpgsqlException>(() => Task.Run(() => waiting.Connection));

        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(PoolTimeoutSeconds - 1), $"took {clock.Elapsed}");
    }

    public void Dispose() => _store.Dispose();
}
