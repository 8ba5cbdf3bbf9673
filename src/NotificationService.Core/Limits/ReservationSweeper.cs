namespace NotificationService.Core.Limits;

/// <summary>
/// Clears the pending-jobs reservations whose offers are stored (<see cref="LimitCounters.ClearReservationsAsync"/>),
/// every <c>Limits:ReservationSweepSeconds</c> (default 2; 0 turns it off, leaving it to the recounts). A claimed
/// reservation is harmless, since a recount leaves it out, but the table would grow by a row per offer, and a recount
/// reads the service's rows. Every core sweeps; their deletes skip each other's rows. At stop it closes the core's
/// offer leases (<see cref="OfferLease"/>).
/// </summary>
public sealed class ReservationSweeper(LimitCounters counters, IConfiguration configuration, TimeProvider clock, ILogger<ReservationSweeper> logger)
    : BackgroundService
{
    private readonly TimeSpan _interval = Interval(configuration);

    public static TimeSpan Interval(IConfiguration configuration)
    {
        var seconds = configuration.GetValue("Limits:ReservationSweepSeconds", 2.0);
        if (seconds is < 0 or > 3600 || double.IsNaN(seconds))
            throw new InvalidOperationException("Limits:ReservationSweepSeconds must be from 0 (no sweep) to 3600.");
        return TimeSpan.FromSeconds(seconds);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_interval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(_interval, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await counters.ClearReservationsAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException) { logger.LogWarning(e, "Reservation sweep failed; the next one retries"); }
        }
    }

    /// <summary>A stopping core gives back what its offer leases did not use, rather than leaving it to age out.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await counters.RetireLeasesAsync();
    }
}
