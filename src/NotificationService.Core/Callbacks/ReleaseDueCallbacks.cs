using System.Collections.Concurrent;
using Marten;
using Wolverine;

namespace NotificationService.Core.Callbacks;

/// <summary>
/// A delivery waiting for its retry, or for a slot of its service: kept in a table of the callbacks' own rather than as a
/// Wolverine scheduled message, because those are released by one poll shared with every tenant's <c>sendAt</c> jobs,
/// and a hanging receiver's backlog would fill it.
/// </summary>
public sealed class ParkedCallback
{
    public Guid Id { get; set; }
    public Guid ServiceId { get; set; }
    public DateTimeOffset DueAt { get; set; }
    public DeliverCallback Message { get; set; } = null!;

    public static ParkedCallback For(DeliverCallback message, Guid serviceId, DateTimeOffset dueAt) =>
        new() { Id = Guid.CreateVersion7(), ServiceId = serviceId, DueAt = dueAt, Message = message };
}

/// <summary>Sent every second by <see cref="ParkedCallbackReleaser"/> on each core.</summary>
public sealed record ReleaseDueCallbacks;

public static class ReleaseDueCallbacksHandler
{
    /// <summary>
    /// Moves due parked deliveries back to the <c>callbacks</c> queue, at most a few per service per round, so one
    /// service's backlog is fed in at the pace its slots allow and never crowds the queue. The rows are locked (SKIP
    /// LOCKED: two cores take different rows) and deleted in the transaction that stores the messages in the outbox.
    /// </summary>
    public static async Task<OutgoingMessages> HandleAsync(
        ReleaseDueCallbacks _, IDocumentSession session, CallbackSettings settings, TimeProvider clock, CancellationToken cancellation)
    {
        await session.BeginTransactionAsync(cancellation);
        var due = await session.QueryAsync<ParkedCallback>("""
            select data from ns.mt_doc_parkedcallback where id in (
              select id from (
                select id, row_number() over (partition by service_id order by due_at) as n
                from ns.mt_doc_parkedcallback where due_at <= ?) ranked
              where n <= ?)
            order by due_at limit 1000
            for update skip locked
            """, cancellation, clock.GetUtcNow(), settings.ReleasePerServicePerRound);
        var messages = new OutgoingMessages();
        foreach (var parked in due)
        {
            session.Delete(parked);
            messages.Add(parked.Message);
        }
        return messages;
    }
}

/// <summary>The timer of <see cref="ReleaseDueCallbacks"/>: once a second, handled inline on this core.</summary>
public sealed class ParkedCallbackReleaser(IServiceProvider services, ILogger<ParkedCallbackReleaser> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var scope = services.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<IMessageBus>().InvokeAsync(new ReleaseDueCallbacks(), stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The rows stay parked; the next round takes them.
                logger.LogWarning(e, "Releasing parked callback deliveries failed");
            }
        }
    }
}

/// <summary>
/// Deliveries in flight in this core per service and per callback, so one tenant's slow receivers cannot take the queue's
/// slots. A delivery over a cap waits only briefly (a fast receiver frees a slot within milliseconds); past that it is
/// parked, holding no thread.
/// </summary>
public sealed class CallbackInFlight
{
    public static readonly TimeSpan SlotWait = TimeSpan.FromMilliseconds(50);

    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _slots = new();

    public async Task<bool> TryEnterAsync(Guid serviceId, int serviceCap, Guid callbackId, int callbackCap, CancellationToken cancellation)
    {
        var service = _slots.GetOrAdd(serviceId, _ => new SemaphoreSlim(serviceCap, serviceCap));
        if (!await service.WaitAsync(SlotWait, cancellation)) return false;
        if (await _slots.GetOrAdd(callbackId, _ => new SemaphoreSlim(callbackCap, callbackCap)).WaitAsync(SlotWait, cancellation)) return true;
        service.Release();
        return false;
    }

    public void Leave(Guid serviceId, Guid callbackId)
    {
        if (_slots.TryGetValue(callbackId, out var callback)) callback.Release();
        if (_slots.TryGetValue(serviceId, out var service)) service.Release();
    }
}
