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
