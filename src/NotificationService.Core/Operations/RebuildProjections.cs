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

namespace NotificationService.Core.Operations;

public sealed record ProjectionsRebuilt(IReadOnlyList<string> Projections, double Seconds);

/// <summary>
/// One rebuild at a time, across every core: a transaction-level advisory lock taken in a session of its own and held for
/// the whole rebuild (two replays writing the same documents would each overwrite the other's). The rebuild's operation
/// record is committed in that transaction, which releases the lock; a rebuild that fails rolls it back, releasing it too.
/// </summary>
public sealed class RebuildLock : IAsyncDisposable
{
    /// <summary>The advisory lock's key (small, so pg_locks shows it as objid with classid 0).</summary>
    public const int Key = 4711016;

    public IDocumentSession? Session { get; private init; }
    public bool Acquired => Session is not null;

    public static async Task<RebuildLock> TryTakeAsync(IDocumentStore store, CancellationToken ct)
    {
        var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock({Key})", (NpgsqlConnection)session.Connection!);
        if ((bool)(await command.ExecuteScalarAsync(ct))!) return new RebuildLock { Session = session };
        await session.DisposeAsync();
        return new RebuildLock();
    }

    public ValueTask DisposeAsync() => Session?.DisposeAsync() ?? ValueTask.CompletedTask;

    public static async Task<bool> IsHeldAsync(IQuerySession session, CancellationToken ct) =>
        (await session.AdvancedSql.QueryAsync<bool>(
            $"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = {Key} AND granted)", ct)).Single();
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
    public static Task<RebuildLock> LoadAsync(IDocumentStore store, CancellationToken ct) => RebuildLock.TryTakeAsync(store, ct);

    public static ProblemDetails Validate(RebuildLock rebuild) =>
        rebuild.Acquired ? WolverineContinue.NoProblems : Problems.Conflict("A projection rebuild is running; GET /admin/projections shows its progress.");

    [WolverinePost("/admin/projections/rebuild", OperationId = "rebuildProjections")]
    [Tags("Operations")]
    [EndpointSummary("Rebuild the projections")]
    [EndpointDescription("Replays the event store into the Job and service documents (as `dotnet run -- projections rebuild` would). Run it in a quiet moment: writes during the rebuild may be overwritten by the replay. One at a time: 409 while another runs (GET /admin/projections shows its progress). Recorded as an operation.")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static async Task<ProjectionsRebuilt> Post([NotBody] RebuildLock rebuild, IDocumentStore store, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct)
    {
        await using var held = rebuild;
        var started = clock.GetUtcNow();
        var watch = Stopwatch.StartNew();
        using var daemon = await store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync<Job>(TimeSpan.FromMinutes(5), ct);
        await daemon.RebuildProjectionAsync<Adapter>(TimeSpan.FromMinutes(5), ct);
        await daemon.RebuildProjectionAsync<ServiceAccount>(TimeSpan.FromMinutes(5), ct);
        string[] projections = [nameof(Job), nameof(Adapter), nameof(ServiceAccount)];
        var id = Guid.NewGuid();
        var events = Operation.Completed(id, OperationKind.Rebuild, user.Actor(), started, new { projections }, projections.Length, projections.Length, 0,
            $"{watch.Elapsed.TotalSeconds:0.###} s");
        // Finished when it finished, not when it began.
        events[^1] = new OperationFinished(id, clock.GetUtcNow(), $"{watch.Elapsed.TotalSeconds:0.###} s");
        // Committed by hand, in the lock's transaction: the commit is what releases the lock.
        held.Session!.Events.StartStream<Operation>(id, events);
        await held.Session.SaveChangesAsync(ct);
        return new ProjectionsRebuilt(projections, watch.Elapsed.TotalSeconds);
    }
}
