using Microsoft.Extensions.Configuration;
using NotificationService.Core.Auth;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Auth;

/// <summary>Admin keys follow the configuration as it reloads: a key removed from appsettings.json stops working at once.</summary>
public sealed class AdminKeysTests
{
    [Fact]
    public void a_key_removed_by_a_configuration_reload_no_longer_matches_nor_does_its_fingerprint()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Admin:ApiKeys:0"] = "nsadmin_old", ["Admin:ApiKeys:1"] = "nsadmin_kept" })
            .Build();
        var keys = new AdminKeys(configuration);
        Assert.True(keys.Matches("nsadmin_old"));
        Assert.True(keys.MatchesFingerprint(AdminKeys.Fingerprint("nsadmin_old")));

        configuration["Admin:ApiKeys:0"] = "nsadmin_new";
        configuration.Reload();

        Assert.False(keys.Matches("nsadmin_old"));
        Assert.False(keys.MatchesFingerprint(AdminKeys.Fingerprint("nsadmin_old")));
        Assert.True(keys.Matches("nsadmin_new"));
        Assert.True(keys.Matches("nsadmin_kept"));
        Assert.True(keys.MatchesFingerprint(AdminKeys.Fingerprint("nsadmin_new")));
    }

    [Fact]
    public void the_fingerprint_is_eight_hex_digits_of_the_keys_hash()
    {
        Assert.Equal(ApiKeys.Hash("nsadmin_x")[..8], AdminKeys.Fingerprint("nsadmin_x"));
        Assert.Equal(8, AdminKeys.Fingerprint("nsadmin_x").Length);
    }
}
