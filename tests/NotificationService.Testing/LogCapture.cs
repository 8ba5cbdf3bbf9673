using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace NotificationService.Testing;

/// <summary>
/// Records what a running host logs, after the host's own filters (appsettings levels), as its console would show it.
/// Attached to a host's logger factory for one test and disposed at its end, so a shared host needs no change.
/// </summary>
public sealed class LogCapture : ILoggerProvider
{
    public sealed record Line(string Category, LogLevel Level, string Message, Exception? Exception, IReadOnlyList<KeyValuePair<string, object?>> State)
    {
        /// <summary>Everything a log sink would get from this line: the message, the exception with its inner ones, the state.</summary>
        public string Text => $"{Level} {Category}: {Message} {Exception} {string.Join(" ", State.Select(s => $"{s.Key}={s.Value}"))}";
        public override string ToString() => Text;
    }

    private readonly ConcurrentQueue<Line> _lines = new();
    private volatile bool _recording = true;

    public static LogCapture AttachTo(IServiceProvider services)
    {
        var capture = new LogCapture();
        services.GetRequiredService<ILoggerFactory>().AddProvider(capture);
        return capture;
    }

    public IReadOnlyList<Line> Lines => [.. _lines];

    public void Clear() => _lines.Clear();

    public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

    /// <summary>A logger factory cannot drop a provider, so a disposed capture stops recording instead.</summary>
    public void Dispose() => _recording = false;

    private sealed class Recorder(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => capture._recording && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            capture._lines.Enqueue(new Line(category, logLevel, formatter(state, exception), exception, [.. values]));
        }
    }
}
