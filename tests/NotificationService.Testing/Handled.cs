using Wolverine.Tracking;

namespace NotificationService.Testing;

/// <summary>
/// A condition for Wolverine's tracked sessions: met once <paramref name="count"/> messages of <typeparamref name="T"/>
/// matching <paramref name="match"/> were handled (succeeded or failed for good) and none of the matching ones that
/// started is still running. The match is asked when the session checks, so it may name what the tracked action returns
/// (the ids of the jobs an offer created). Only handling that starts while the condition is armed counts; unarmed at
/// construction (<paramref name="armed"/> false), <see cref="Arm"/> marks the moment after which a handling must start,
/// which asks "handled after X" rather than "handled at all".
/// </summary>
public sealed class Handled<T>(Func<T, bool> match, int count = 1, bool armed = true) : ITrackedCondition
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, T> _running = [];
    private readonly List<T> _handled = [];
    private bool _armed = armed;

    public void Arm()
    {
        lock (_lock) _armed = true;
    }

    public void Record(EnvelopeRecord record)
    {
        if (record.Envelope is not { Message: T message } envelope) return;
        lock (_lock)
        {
            if (record.MessageEventType == MessageEventType.ExecutionStarted && _armed) _running[envelope.Id] = message;
            else if (record.MessageEventType is MessageEventType.MessageSucceeded or MessageEventType.MessageFailed && _running.Remove(envelope.Id)) _handled.Add(message);
        }
    }

    public bool IsCompleted()
    {
        lock (_lock) return _handled.Count(match) >= count && !_running.Values.Any(match);
    }

    public override string ToString()
    {
        lock (_lock) return $"{count} {typeof(T).Name} matching handled ({_handled.Count(match)} so far, {_running.Values.Count(match)} running)";
    }
}
