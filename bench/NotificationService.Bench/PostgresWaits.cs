using Npgsql;

namespace NotificationService.Bench;

/// <summary>
/// What PostgreSQL's backends for the bench's database were doing during a window, and how much CPU the host took from
/// this machine meanwhile. A window's CPU per job says how much PostgreSQL worked, not whether its backends were working
/// or waiting for a WAL flush, a lock or the client, nor whether the VM was being starved by its host.
/// <para>pg_stat_activity is sampled up to ten times a second. The sampler connects to the server's maintenance database,
/// so its queries are neither the bench database's commits (Database.CountersAsync) nor its statements (Statements). It
/// only describes the window: whatever goes wrong with it leaves the window's figures as they are, without samples. It
/// sees the core's and the workers' backends because the bench connects as a superuser (other roles see their state as
/// NULL unless granted pg_read_all_stats).</para>
/// </summary>
public sealed class PostgresWaits : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    // Stopping ends the timer rather than cancelling: a cancelled query makes Npgsql send PostgreSQL a cancel request
    // on a connection of its own, and the window's drain would wait for it.
    private readonly PeriodicTimer _timer = new(Interval);
    private readonly string? _hostBefore = HostSteal.Reading();
    private readonly Task<(int Samples, Dictionary<string, long> Counts)?> _sampling;
    private Task<WaitProfile>? _stop;

    private PostgresWaits(string postgres) => _sampling = SampleAsync(postgres);

    public static PostgresWaits Start(string postgres) => new(postgres);

    /// <summary>
    /// The window's samples: none (<see cref="WaitProfile.Samples"/> 0) when the sampler failed, which it printed, or had
    /// not started sampling yet; the host's steal either way. Stops sampling; later calls get the same answer.
    /// </summary>
    public Task<WaitProfile> StopAsync() => _stop ??= StopOnceAsync();

    private async Task<WaitProfile> StopOnceAsync()
    {
        _timer.Dispose(); // the loop's next wait returns false
        var sampled = await _sampling;
        var steal = HostSteal.Since(_hostBefore);
        return sampled is { Samples: > 0 } s
            ? new WaitProfile(s.Samples, s.Counts.ToDictionary(c => c.Key, c => Math.Round((double)c.Value / s.Samples, 2)), steal)
            : new WaitProfile(0, new Dictionary<string, double>(), steal);
    }

    /// <summary>A window that ended by an exception still stops its sampler.</summary>
    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>Backends of the bench's database per sample, by what they were doing (<see cref="WaitProfile"/>).</summary>
    private async Task<(int, Dictionary<string, long>)?> SampleAsync(string postgres)
    {
        var counts = new Dictionary<string, long>();
        var samples = 0;
        try
        {
            var settings = new NpgsqlConnectionStringBuilder(postgres);
            var database = settings.Database ?? settings.Username; // PostgreSQL's own default
            // Unpooled: its backend ends with the window instead of idling in the bench's pool afterwards.
            settings.Database = "postgres";
            settings.Pooling = false;
            // A server that does not answer costs the window's end a few seconds at most, not Npgsql's default 15 and 30,
            // and a timed-out query is abandoned without waiting for its cancel request's answer.
            settings.Timeout = 3;
            settings.CommandTimeout = 3;
            settings.CancellationTimeout = -1;
            await using var connection = new NpgsqlConnection(settings.ConnectionString);
            await connection.OpenAsync();
            // A backend in a transaction but not running a statement is waiting for its client (the core or a worker)
            // to send the next one: counted apart from the backends running one. Each is named by its role, less a leading
            // "ns_" (the core's ns_core reads "core", the workers' ns_worker "worker", the bench's own "postgres"), so that
            // a window tells whose transactions wait and for what; all cores share one name, as do all workers.
            // A backend whose role was dropped while it ran has none.
            await using var command = new NpgsqlCommand("""
                SELECT coalesce(regexp_replace(usename, '^ns_', ''), 'no role') || ': ' ||
                       CASE WHEN state = 'idle in transaction' THEN 'idle in transaction'
                            ELSE coalesce(wait_event_type || ':' || wait_event, 'CPU or runnable') END, count(*)
                FROM pg_stat_activity
                WHERE datname = $1 AND backend_type = 'client backend' AND state IN ('active', 'idle in transaction')
                  AND pid <> pg_backend_pid()
                GROUP BY 1
                """, connection) { Parameters = { new() { Value = database } } };
            await command.PrepareAsync();
            while (await _timer.WaitForNextTickAsync())
            {
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    var what = reader.GetString(0);
                    counts[what] = counts.GetValueOrDefault(what) + reader.GetInt64(1);
                }
                samples++;
            }
            return (samples, counts);
        }
        catch (Exception e)
        {
            Console.WriteLine($"   (PostgreSQL's backends not sampled in this window after {samples} samples: {e.GetType().Name}: {e.Message})");
            return null;
        }
    }
}
