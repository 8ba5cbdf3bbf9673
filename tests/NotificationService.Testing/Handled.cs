using Wolverine.Tracking;

namespace NotificationService.Testing;

/// <summary>
/// A condition for Wolverine's tracked sessions: met once <paramref name="count"/> messages of <typeparamref name="T"/>
/// matching <paramref name="match"/> were handled (succeeded or failed for good) and none of the matching ones that
/// started is still running. Only handling that starts while the condition is armed counts; unarmed at construction
/// (<paramref name="armed"/> false), <see cref="Arm"/> marks the moment after which a handling must start, which asks
/// "handled after X" rather than "handled at all".
/// </summary>
public sealed class Handled<T>(Func<T, bool> match, int count = 1, bool armed = true) : ITrackedCondition
{
    private readonly Lock _lock = new();
    private readonly HashSet<Guid> _running = [];
    private int _handled;
    private bool _armed = armed;

    public void Arm()
    {
        lock (_lock) _armed = true;
    }

    public void Record(EnvelopeRecord record)
    {
        if (record.Envelope is not { Message: T message } envelope || !match(message)) return;
        lock (_lock)
        {
            if (record.MessageEventType == MessageEventType.ExecutionStarted && _armed) _running.Add(envelope.Id);
            else if (record.MessageEventType is MessageEventType.MessageSucceeded or MessageEventType.MessageFailed && _running.Remove(envelope.Id)) _handled++;
        }
    }

    public bool IsCompleted()
    {
        lock (_lock) return _handled >= count && _running.Count == 0;
    }

    public override string ToString() => $"{count} {typeof(T).Name} matching handled ({_handled} so far, {_running.Count} running)";
}
