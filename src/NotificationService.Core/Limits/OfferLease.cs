namespace NotificationService.Core.Limits;

/// <summary>
/// Offer tokens and pending-jobs places that one core took for a busy service in a single gate call, handed to the
/// service's next offers on this core without a statement each (issue 14: the gate was one statement per offer, and
/// one service's offers queued on its bucket row). The gate grants a lease only while the service is far from both
/// limits (half its burst left after the lease, the lease's places within half its quota), so near a limit every offer
/// is decided by the database alone, exactly as before. A lease is used for <see cref="Duration"/> at most; when it has
/// expired (or ran out, or the service's limits changed) and its last offer has ended, the core gives back what it did
/// not use in one statement (<see cref="LimitCounters"/>). Until then its reservation row counts all its places, which
/// only overstates the service's pending jobs.
/// </summary>
public sealed class OfferLease(Guid id, Guid serviceId, EffectiveLimits limits, int tokens, int places, long until)
{
    /// <summary>How long a core hands out one lease: short, so tokens it holds are not long missing from other cores.</summary>
    public static readonly TimeSpan Duration = TimeSpan.FromMilliseconds(500);

    /// <summary>The most offers one lease is for (its places are that many times the jobs of the offer that took it).</summary>
    public const int MaxOffers = 1000;

    public Guid Id { get; } = id;
    public Guid ServiceId { get; } = serviceId;
    public EffectiveLimits Limits { get; } = limits;

    private int _tokens = tokens, _places = places, _inFlight = 1; // the offer that took the lease is in flight
    private bool _retired, _closed;

    /// <summary>
    /// How many offers of <paramref name="jobs"/> jobs to lease for: as many as this core saw in the last
    /// <see cref="Duration"/>, within that much of the service's rate and a twentieth of its burst and quota (so small
    /// limits are never leased: what a lease holds unused can refuse other offers for a moment); below 2, none.
    /// </summary>
    public static int OffersFor(int recentOffers, int jobs, EffectiveLimits limits) =>
        (int)Math.Min(Math.Min(recentOffers, MaxOffers),
            Math.Min(Math.Floor(limits.OffersPerSecond * Duration.TotalSeconds), Math.Min(limits.Burst / 20, limits.PendingJobs / 20 / jobs)));

    /// <summary>A token and <paramref name="jobs"/> places for one offer, if the lease is still current and has them.</summary>
    public bool TryTake(EffectiveLimits limits, int jobs, long now)
    {
        lock (this)
        {
            if (_retired || now >= until || limits != Limits || _tokens < 1 || _places < jobs) return false;
            _tokens--;
            _places -= jobs;
            _inFlight++;
            return true;
        }
    }

    /// <summary>No more offers take from it; true when it is to be closed now (nothing in flight).</summary>
    public bool Retire()
    {
        lock (this)
        {
            _retired = true;
            return ClosesNow();
        }
    }

    /// <summary>An offer that took from it has ended, giving back the places of jobs not stored; true when it is to be closed now.</summary>
    public bool Leave(int placesBack)
    {
        lock (this)
        {
            _places += placesBack;
            _inFlight--;
            return ClosesNow();
        }
    }

    /// <summary>Tokens its service's next offers on this core may still take from it.</summary>
    public int TokensOnHand
    {
        get { lock (this) return _retired ? 0 : _tokens; }
    }

    /// <summary>What it did not use, read once it is closed.</summary>
    public (int Tokens, int Places) Unused
    {
        get { lock (this) return (_tokens, _places); }
    }

    private bool ClosesNow()
    {
        if (!_retired || _inFlight > 0 || _closed) return false;
        _closed = true;
        return true;
    }
}
