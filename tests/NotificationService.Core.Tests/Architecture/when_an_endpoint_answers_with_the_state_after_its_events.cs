using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using NotificationService.Storage.Adapters;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// <see cref="Job.After"/> and <see cref="Adapter.After"/> repeat the projection's dispatch in a switch, so an endpoint
/// can answer with the state its events will leave: an event added later to what changes a job or an adapter in place,
/// but not to the switch, would throw only when a client hits it. Pure: no host, no database.
/// </summary>
public sealed class when_an_endpoint_answers_with_the_state_after_its_events
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void every_event_a_pending_job_change_returns_is_applied_as_the_projection_does()
    {
        // A scheduled (pending) job with every field changed: every event type JobLifecycle.OnChange can return.
        var job = new Job();
        job.Apply(new JobScheduled(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "email",
            JsonDocument.Parse("""{"to":"ann@example.test"}""").RootElement, Now.AddHours(-1), Now.AddHours(1), null));
        var events = JobLifecycle.OnChange(job, Now.AddDays(2), Now.AddDays(1), JsonDocument.Parse("""{"to":"bob@example.test"}""").RootElement, Now);
        Assert.NotEmpty(events);
        var loaded = JsonSerializer.Serialize(job);

        foreach (var change in events)
        {
            var projected = Copy(job);
            typeof(Job).GetMethod(nameof(Job.Apply), [change.GetType()])!.Invoke(projected, [change]);
            Assert.Equal(JsonSerializer.Serialize(projected), JsonSerializer.Serialize(job.After([change])));
        }
        Assert.Equal(loaded, JsonSerializer.Serialize(job)); // the loaded copy is left as it is
    }

    [Fact]
    public void every_event_that_changes_an_adapter_after_its_creation_is_applied_as_the_projection_does()
    {
        var adapter = new Adapter
        {
            Id = Guid.NewGuid(), Name = "email", Queue = "ns.adapter.email", Status = AdapterStatus.Blocked,
            Config = JsonDocument.Parse("""{"host":"smtp.example.test"}""").RootElement,
        };
        var loaded = JsonSerializer.Serialize(adapter);
        // Every Apply but the creation's: what a later event of the stream changes, so what an admin endpoint may return.
        var changes = typeof(Adapter).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.Name == nameof(Adapter.Apply))
            .Select(m => m.GetParameters().Single().ParameterType)
            .Where(t => t != typeof(AdapterRegistered))
            .ToList();
        Assert.Contains(typeof(AdapterBlocked), changes);

        foreach (var type in changes)
        {
            // Its default values are enough: what is tested is that After knows the event, and applies it as Apply does.
            var change = RuntimeHelpers.GetUninitializedObject(type);
            var projected = Copy(adapter);
            typeof(Adapter).GetMethod(nameof(Adapter.Apply), [type])!.Invoke(projected, [change]);
            Assert.Equal(JsonSerializer.Serialize(projected), JsonSerializer.Serialize(adapter.After(change)));
        }
        Assert.Equal(loaded, JsonSerializer.Serialize(adapter)); // the loaded copy is left as it is
    }

    private static T Copy<T>(T original) => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(original))!;
}
