using System.Text.Json;
using NotificationService.Storage.Adapters;

namespace NotificationService.Core.Tests.Admin;

/// <summary>
/// The adapter endpoints return their event for Wolverine to append and answer with <see cref="Adapter.After"/>: the
/// adapter as the projection will hold it, while the loaded one, which Wolverine appends to, stays as it was loaded.
/// </summary>
public class when_an_admin_endpoint_answers_with_the_changed_adapter
{
    private static readonly DateTimeOffset Loaded = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Loaded.AddHours(1);

    private static Adapter Active() => new()
    {
        Id = Guid.NewGuid(), Name = "mail", Type = "email", Config = JsonDocument.Parse("""{"host":"a"}""").RootElement,
        ParamsSchema = "{}", Status = AdapterStatus.Active, AllowedServices = [Guid.NewGuid()], CreatedAt = Loaded, UpdatedAt = Loaded,
    };

    [Fact]
    public void a_block_gives_a_blocked_copy_and_leaves_the_loaded_adapter_active()
    {
        var loaded = Active();
        var after = loaded.After(new AdapterBlocked(loaded.Id, "admin:x", Now));
        Assert.Equal((AdapterStatus.Blocked, Now), (after.Status, after.UpdatedAt));
        Assert.Equal((AdapterStatus.Active, Loaded), (loaded.Status, loaded.UpdatedAt));
        Assert.Equal(AdapterStatus.Active, after.After(new AdapterUnblocked(loaded.Id, "admin:x", Now)).Status);
    }

    [Fact]
    public void a_reconfiguration_changes_only_the_fields_it_carries()
    {
        var loaded = Active();
        var services = loaded.AllowedServices;
        var after = loaded.After(new AdapterReconfigured(loaded.Id, null, """{"type":"object"}""", null, [], "admin:x", Now));
        Assert.Equal(("""{"type":"object"}""", 0, Now), (after.ParamsSchema, after.AllowedServices.Count, after.UpdatedAt));
        Assert.Equal(loaded.Config.GetRawText(), after.Config.GetRawText());
        Assert.Equal(("{}", Loaded), (loaded.ParamsSchema, loaded.UpdatedAt));
        Assert.Same(services, loaded.AllowedServices);
        Assert.Single(loaded.AllowedServices);
    }

    [Fact]
    public void a_deletion_is_no_change_in_place() =>
        Assert.Throws<ArgumentException>(() => Active().After(new AdapterDeleted(Guid.NewGuid(), "admin:x", Now)));
}
