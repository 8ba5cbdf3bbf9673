using System.Diagnostics;
using System.Security.Claims;
using JasperFx.Events.Daemon;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;
using Npgsql;
using Wolverine.Http;
using Wolverine.Marten;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Core.Operations;

public sealed record ProjectionsRebuilt(IReadOnlyList<string> Projections, double Seconds);

/// <summary>
/// One rebuild at a time, across every core: a session-level advisory lock held, for the whole rebuild, on a connection of
/// its own (two replays writing the same documents would each overwrite the other's). Not a transaction-level lock: a
/// transaction left open around the rebuild was seen to stall it in the tests.
/// </summary>
public sealed class RebuildLock : IAsyncDisposable
{
    /// <summary>The advisory lock's key (small, so pg_locks shows it as objid with classid 0).</summary>
    public const int Key = 4711016;

    private readonly NpgsqlConnection? _connection;
    public bool Acquired => _connection is not null;

    private RebuildLock(NpgsqlConnection? connection) => _connection = connection;

    public static async Task<RebuildLock> TryTakeAsync(string postgres, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(NotificationStore.PooledConnectionString(postgres));
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_lock({Key})", connection);
        if ((bool)(await command.ExecuteScalarAsync(ct))!) return new RebuildLock(connection);
        await connection.DisposeAsync();
        return new RebuildLock(null);
    }

    /// <summary>
    /// Unlocked explicitly: a pooled connection's session (and its lock) outlives its Dispose until it is next used.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_connection is null) return;
        try
        {
            if (_connection.State == System.Data.ConnectionState.Open)
            {
                await using var command = new NpgsqlCommand($"SELECT pg_advisory_unlock({Key})", _connection);
                await command.ExecuteNonQueryAsync();
            }
        }
        finally
        {
            await _connection.DisposeAsync();
        }
    }

    public static async Task<bool> IsHeldAsync(IQuerySession session, CancellationToken ct) =>
        (await session.AdvancedSql.QueryAsync<bool>(
            $"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = 0 AND objid = {Key} AND granted)", ct)).Single();
}

/// <summary>
/// Rebuilds the projections (Job, Adapter and ServiceAccount documents; the cancellation flag, offer views and job counts
/// read from the Job document) by replaying the event streams. Projections read only event data (never the clock), so
/// the rebuilt documents equal the ones they replace. Same as `dotnet run --project src/NotificationService.Core --
/// projections rebuild`; run it in a quiet moment, as writes during the rebuild may be overwritten by the replay.
/// GET /admin/projections follows it (GetProjections.cs).
/// </summary>
public static class RebuildProjectionsEndpoint
{
    /// <summary>Taken here, so a refused rebuild is a 409 like any other conflict; the rebuild releases it when it ends.</summary>
    public static Task<RebuildLock> LoadAsync(IConfiguration configuration, CancellationToken ct) =>
        RebuildLock.TryTakeAsync(configuration.RequiredConnectionString("Postgres"), ct);

    public static ProblemDetails Validate(RebuildLock rebuild) =>
        rebuild.Acquired ? WolverineContinue.NoProblems : Problems.Conflict("A projection rebuild is running; GET /admin/projections shows its progress.");

    [WolverinePost("/admin/projections/rebuild", OperationId = "rebuildProjections")]
    [Tags("Operations")]
    [EndpointSummary("Rebuild the projections")]
    [EndpointDescription("Replays the event store into the Job and service documents (as `dotnet run -- projections rebuild` would). Run it in a quiet moment: writes during the rebuild may be overwritten by the replay. One at a time: 409 while another runs (GET /admin/projections shows its progress). Recorded as an operation.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static async Task<ProjectionsRebuilt> Post([NotBody] RebuildLock rebuild, IDocumentStore store, ClaimsPrincipal user, TimeProvider clock)
    {
        await using var held = rebuild;
        string[] projections = [nameof(Job), nameof(Adapter), nameof(ServiceAccount)];
        var id = Guid.NewGuid();
        // Started is committed before the replay and Finished whatever its end, so a failed rebuild is on record too.
        await using (var session = store.LightweightSession())
        {
            session.Events.StartStream<Operation>(id, new OperationStarted(id, OperationKind.Rebuild, user.Actor(), clock.GetUtcNow(),
                System.Text.Json.JsonSerializer.SerializeToElement(new { projections }, OperationsConfiguration.Json), projections.Length));
            await session.SaveChangesAsync();
        }
        var watch = Stopwatch.StartNew();
        var (done, outcome) = (0, "failed");
        try
        {
            // Not the request's token: a client that stops waiting must not leave the projections half replayed.
            using var daemon = await store.BuildProjectionDaemonAsync();
            await daemon.RebuildProjectionAsync<Job>(TimeSpan.FromMinutes(5), CancellationToken.None);
            done++;
            await daemon.RebuildProjectionAsync<Adapter>(TimeSpan.FromMinutes(5), CancellationToken.None);
            done++;
            await daemon.RebuildProjectionAsync<ServiceAccount>(TimeSpan.FromMinutes(5), CancellationToken.None);
            done++;
            outcome = $"{watch.Elapsed.TotalSeconds:0.###} s";
        }
        catch (Exception e)
        {
            outcome = $"failed: {e.GetType().Name}";
            throw;
        }
        finally
        {
            await using var session = store.LightweightSession();
            var now = clock.GetUtcNow();
            session.Events.Append(id, new OperationProgressed(id, done, projections.Length - done, null, now), new OperationFinished(id, now, outcome));
            await session.SaveChangesAsync(CancellationToken.None);
        }
        return new ProjectionsRebuilt(projections, watch.Elapsed.TotalSeconds);
    }
}
