using Microsoft.Extensions.Configuration;
using NotificationService.Core.Retention;
using NotificationService.Core.Services;

namespace NotificationService.Core.Tests.Retention;

/// <summary>Start-up checks of the Retention:* settings: pure, no host.</summary>
public sealed class when_retention_settings_are_read
{
    private static RetentionSettings Read(params (string Key, string Value)[] settings) =>
        RetentionSettings.From(new ConfigurationBuilder().AddInMemoryCollection(settings.ToDictionary(s => $"Retention:{s.Key}", s => (string?)s.Value)).Build());

    [Fact]
    public void the_defaults_apply_where_nothing_is_set_and_a_service_overrides_field_by_field()
    {
        var settings = Read();
        Assert.Equal(new EffectiveRetention(30, 365, 7), settings.Defaults);
        Assert.Equal((TimeSpan.FromMinutes(5), 500), (settings.SweepInterval, settings.BatchSize));
        Assert.Equal(new EffectiveRetention(0, 365, 2), settings.For(new ServiceRetention(ParamsDays: 0, IdempotencyDays: 2)));
        Assert.Equal(new EffectiveRetention(10, 20, 3), Read(("ParamsDays", "10"), ("JobsDays", "20"), ("IdempotencyDays", "3")).Defaults);
    }

    [Theory]
    [InlineData("ParamsDays", "-1")]
    [InlineData("JobsDays", "0")]
    [InlineData("IdempotencyDays", "36501")]
    [InlineData("SweepSeconds", "-5")]
    [InlineData("SweepSeconds", "NaN")]
    [InlineData("BatchSize", "0")]
    [InlineData("BatchSize", "10001")]
    [InlineData("JobsDays", "a year")]
    public void a_bad_value_stops_the_core_naming_the_setting(string key, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Read((key, value)));
        Assert.Contains($"Retention:{key}", error.Message);
    }
}
