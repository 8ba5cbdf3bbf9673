using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using NotificationService.Hosting;
using NotificationService.Testing;
using Npgsql;

namespace NotificationService.Adapters.Tests.Hosting;

/// <summary>The console lines of the core and the workers, written by the formatters their hosts configure.</summary>
public sealed class LoggingTests
{
    [Fact]
    public void a_plain_line_starts_with_its_utc_time()
    {
        using var host = Host(("Logging:Console:FormatterName", null));
        Assert.Equal(ConsoleFormatterNames.Simple, host.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName ?? ConsoleFormatterNames.Simple);

        var line = Write(host, ConsoleFormatterNames.Simple);

        Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Test\[0\]"), line);
        Assert.Contains("job 42 finished", line);
    }

    [Fact]
    public void configuration_selects_json_lines_that_carry_the_time()
    {
        using var host = Host(("Logging:Console:FormatterName", "json"));
        var selected = host.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName;
        Assert.Equal(ConsoleFormatterNames.Json, selected);

        var line = JsonDocument.Parse(Write(host, selected!)).RootElement;

        Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"), line.GetProperty("Timestamp").GetString());
        Assert.Equal("job 42 finished", line.GetProperty("Message").GetString());
        Assert.Equal("Information", line.GetProperty("LogLevel").GetString());
    }

    [Fact]
    public async Task a_database_error_is_logged_with_its_code_and_stack_but_not_the_data_postgresql_quoted()
    {
        using var host = Host();
        using var log = LogCapture.AttachTo(host.Services);
        // A real PostgreSQL error whose message, detail and context all quote a value, the way a raise in a trigger
        // or a JSON conversion error (22P05, with the JSON fragment as context) can.
        var error = await Record.ExceptionAsync(() => Sql.ExecuteAsync(
            "DO $$ BEGIN RAISE EXCEPTION 'refused %', 'secret-value' USING DETAIL = 'secret-detail', HINT = 'secret-hint'; END $$"));
        Assert.IsType<PostgresException>(error);

        host.Services.GetRequiredService<ILogger<LoggingTests>>().LogError(new InvalidOperationException("Saving failed", error), "Could not save job {JobId}", 42);

        var line = Assert.Single(log.Lines);
        Assert.Equal(LogLevel.Error, line.Level);
        Assert.DoesNotContain("secret", line.Text);
        Assert.Contains("P0001", line.Exception!.ToString());
        Assert.True(line.Exception.ToString().Contains(nameof(Sql.ExecuteAsync)), line.Exception.ToString()); // the stack
        Assert.Contains("Could not save job 42", line.Message);
    }

    [Fact]
    public void a_bad_request_from_a_client_is_logged_at_debug_without_a_stack()
    {
        using var host = Host(("Logging:LogLevel:Default", "Debug"));
        using var log = LogCapture.AttachTo(host.Services);

        host.Services.GetRequiredService<ILogger<LoggingTests>>().LogError(
            new Microsoft.AspNetCore.Http.BadHttpRequestException("Request body too large.", 413), "An unhandled exception has occurred while executing the request.");

        var line = Assert.Single(log.Lines);
        Assert.Equal(LogLevel.Debug, line.Level);
        Assert.Null(line.Exception);
    }

    private static IHost Host(params (string Key, string? Value)[] settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.AddNotificationLogging();
        return builder.Build();
    }

    /// <summary>One line as the host's console logger would write it with the named formatter.</summary>
    private static string Write(IHost host, string formatterName)
    {
        var formatter = host.Services.GetServices<ConsoleFormatter>().Single(f => f.Name == formatterName);
        using var output = new StringWriter();
        var entry = new LogEntry<string>(LogLevel.Information, "Test", new EventId(0), "job 42 finished", null, (s, _) => s);
        formatter.Write(entry, new LoggerExternalScopeProvider(), output);
        return output.ToString().Trim();
    }
}
