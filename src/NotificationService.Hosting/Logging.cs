using Marten;
using Marten.Services;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Hosting;

/// <summary>
/// What every process writes to its log: timestamped lines (UTC), plain or JSON (<c>Logging:Console:FormatterName</c> =
/// <c>simple</c> | <c>json</c>), with two rules applied to every line whichever library writes it:
/// <list type="bullet">
/// <item>a client's mistake is not the service's error: Wolverine's "cannot read the JSON body" and ASP.NET's
/// <see cref="BadHttpRequestException"/> (the client got a 4xx) are written at Debug, without a stack trace;</item>
/// <item>request data stays out: PostgreSQL may quote stored values in an error's message, detail or context (a JSON
/// fragment, a raised message), so an exception that carries a <see cref="PostgresException"/> is logged as
/// <see cref="RedactedDatabaseException"/>: the error code, the table, constraint and column, and the stack trace.</item>
/// </list>
/// </summary>
public static class Logging
{
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";

    public static IHostApplicationBuilder AddNotificationLogging(this IHostApplicationBuilder builder)
    {
        // Without a formatter name the console logger builds the plain formatter's options from its own obsolete
        // properties, dropping the ones set below.
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.FormatterName ??= ConsoleFormatterNames.Simple);
        // Defaults only: a format set in configuration (Logging:Console:FormatterOptions) wins.
        builder.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            if (o.TimestampFormat is not null) return;
            (o.TimestampFormat, o.UseUtcTimestamp) = (TimestampFormat, true);
        });
        // A line written inside a span carries its trace and span ids (JSON: in its scopes), which leads to the trace.
        builder.Logging.Configure(o => o.ActivityTrackingOptions |= ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        builder.Services.Configure<JsonConsoleFormatterOptions>(o =>
        {
            o.IncludeScopes = true;
            if (o.TimestampFormat is not null) return;
            (o.TimestampFormat, o.UseUtcTimestamp) = (TimestampFormat.TrimEnd(), true);
        });
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp => new SafeLoggerFactory(ActivatorUtilities.CreateInstance<LoggerFactory>(sp))));
        // Marten's own failure lines list every parameter value of the failed statement; ours name the statement only.
        // It also prepares Marten's repeated statements (OnBeforeExecute): replacing this logger turns that preparation off.
        builder.Services.ConfigureMarten((sp, opts) => opts.Logger(new SafeMartenLogger(sp.GetRequiredService<ILogger<IDocumentStore>>())));
        return builder;
    }

    /// <summary>Wolverine HTTP's line for a body that is not valid JSON for the endpoint (the client got a 400).</summary>
    private const string UnreadableBody = "Error trying to deserialize JSON from incoming HTTP body at {Url} to type {Type}";

    /// <summary>
    /// A request whose HTTP framing is broken, found by Kestrel while the body was read: a <see cref="BadHttpRequestException"/>,
    /// or the plain IOException Kestrel throws for a chunk size too large for an int. The client's mistake, a 4xx.
    /// </summary>
    public static bool IsBrokenRequest(Exception? exception) =>
        exception is BadHttpRequestException
        || exception is IOException io && io.TargetSite?.DeclaringType?.Namespace?.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) == true;

    internal static bool IsClientMistake<TState>(TState state, Exception? exception) =>
        IsBrokenRequest(exception)
        || (state is IReadOnlyList<KeyValuePair<string, object?>> values && values.Any(v => v is { Key: "{OriginalFormat}", Value: UnreadableBody }));

    internal static Exception? Redact(Exception? exception) =>
        FindPostgres(exception) is { } postgres ? new RedactedDatabaseException(exception!, postgres) : exception;

    private static PostgresException? FindPostgres(Exception? e) => e switch
    {
        null => null,
        PostgresException postgres => postgres,
        AggregateException aggregate => aggregate.InnerExceptions.Select(FindPostgres).FirstOrDefault(p => p is not null),
        _ => FindPostgres(e.InnerException),
    };
}

/// <summary>
/// A database failure as the log shows it: the exception types, PostgreSQL's error code and the objects it names, and
/// the stack trace of the original exception; never PostgreSQL's message, detail or context, which may quote data.
/// </summary>
public sealed class RedactedDatabaseException(Exception original, PostgresException postgres) : Exception(Describe(original, postgres))
{
    public PostgresException Postgres { get; } = postgres;

    /// <summary>The stacks of the whole chain, innermost first, as <see cref="Exception.ToString"/> would show them.</summary>
    public override string? StackTrace
    {
        get
        {
            var stacks = new List<string>();
            for (var e = original; e is not null; e = e.InnerException)
                if (e.StackTrace is { Length: > 0 } stack) stacks.Insert(0, stack);
            return stacks.Count == 0 ? null : string.Join($"{Environment.NewLine}   --- End of inner exception stack trace ---{Environment.NewLine}", stacks);
        }
    }

    private static string Describe(Exception original, PostgresException e)
    {
        var chain = new List<string>();
        for (var x = original; x is not null; x = x.InnerException) chain.Add(x.GetType().Name);
        var names = new[] { ("schema", e.SchemaName), ("table", e.TableName), ("column", e.ColumnName), ("constraint", e.ConstraintName), ("routine", e.Routine) }
            .Where(n => !string.IsNullOrEmpty(n.Item2)).Select(n => $"{n.Item1} {n.Item2}");
        return $"{string.Join(" <- ", chain)}: PostgreSQL error {e.SqlState} ({string.Join(", ", names)}); "
               + "its message is not logged because PostgreSQL may quote the stored data in it";
    }
}

internal sealed class SafeLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new SafeLogger(inner.CreateLogger(categoryName));
    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);
    public void Dispose() => inner.Dispose();

    private sealed class SafeLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);
        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Debug && Logging.IsClientMistake(state, exception))
            {
                if (inner.IsEnabled(LogLevel.Debug)) inner.Log(LogLevel.Debug, eventId, state, null, formatter);
                return;
            }
            inner.Log(logLevel, eventId, state, Logging.Redact(exception), formatter);
        }
    }
}

/// <summary>Marten's failure lines without the statement's parameter values (those are request data); and, as Marten's only hook
/// before a statement runs, where its repeated statements get prepared.</summary>
internal sealed partial class SafeMartenLogger(ILogger logger) : IMartenLogger, IMartenSessionLogger
{
    public IMartenSessionLogger StartSession(IQuerySession session) => this;
    public void SchemaChange(string sql) => SchemaChanged(logger, sql);
    public void LogSuccess(NpgsqlCommand command) { }
    public void LogSuccess(NpgsqlBatch batch) { }
    public void LogFailure(NpgsqlCommand command, Exception ex)
    {
        PreparedStatements.Failed(ex);
        Failed(logger, ex, command.CommandText);
    }

    // The failing statement of a batch, when PostgreSQL says which; otherwise the first one.
    public void LogFailure(NpgsqlBatch batch, Exception ex)
    {
        PreparedStatements.Failed(ex);
        Failed(logger, ex, ((ex as PostgresException)?.BatchCommand ?? (batch.BatchCommands.Count > 0 ? batch.BatchCommands[0] : null))?.CommandText ?? "");
    }

    public void LogFailure(Exception ex, string message)
    {
        PreparedStatements.Failed(ex);
        Failed(logger, ex, message);
    }

    public void RecordSavedChanges(IDocumentSession session, IChangeSet commit) { }
    public void OnBeforeExecute(NpgsqlCommand command)
    {
        PreparedStatements.Prepare(command);
        if (PreparedStatements.TakeCapReached()) CapReached(logger, PreparedStatements.MaxStatements);
    }

    public void OnBeforeExecute(NpgsqlBatch batch)
    {
        PreparedStatements.Prepare(batch);
        if (PreparedStatements.TakeCapReached()) CapReached(logger, PreparedStatements.MaxStatements);
    }

    [LoggerMessage(LogLevel.Information, "Executed schema update SQL:\n{Sql}")]
    private static partial void SchemaChanged(ILogger logger, string sql);

    [LoggerMessage(LogLevel.Warning, "{Max} distinct statements are prepared; further repeated ones run unprepared (PreparedStatements.MaxStatements)")]
    private static partial void CapReached(ILogger logger, int max);

    [LoggerMessage(LogLevel.Error, "PostgreSQL command failed: {Sql}")]
    private static partial void Failed(ILogger logger, Exception exception, string sql);
}
