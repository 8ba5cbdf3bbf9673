using Microsoft.Extensions.Configuration;
using NotificationService.Core.Limits;
using NotificationService.Core.Services;

namespace NotificationService.Core.Tests.Limits;

/// <summary>The defaults are read at start-up; a bad one stops the core with the setting's name (no host needed).</summary>
public sealed class when_limit_defaults_are_configured
{
    private static LimitDefaults From(params (string Key, string Value)[] settings) =>
        LimitDefaults.From(new ConfigurationBuilder().AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value)).Build());

    [Fact]
    public void unset_limits_take_the_built_in_defaults_and_set_ones_replace_them()
    {
        Assert.Equal(new EffectiveLimits(1000, 2000, 100, 100_000, 1024 * 1024, 256 * 1024), From().For(null));
        var defaults = From(("Limits:OffersPerSecond", "2.5"), ("Limits:PendingJobs", "7"));
        Assert.Equal(new EffectiveLimits(2.5, 2000, 100, 7, 1024 * 1024, 256 * 1024), defaults.For(new ServiceLimits()));
        Assert.Equal(3, defaults.For(new ServiceLimits(JobsPerOffer: 3)).JobsPerOffer);
    }

    [Theory]
    [InlineData("Limits:Burst", "0")]
    [InlineData("Limits:OffersPerSecond", "0")]
    [InlineData("Limits:MaxBodyBytes", "2000000")]
    [InlineData("Limits:JobsPerOffer", "-1")]
    public void a_bad_default_stops_the_start_up_naming_the_setting(string key, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => From((key, value)));
        Assert.Contains(key, error.Message);
    }
}
