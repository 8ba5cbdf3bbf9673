using System.Reflection;
using System.Text.Json;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// Job.Copy, After, AfterStart and Then copy with MemberwiseClone, which shares every reference member between the copies:
/// safe only while each member is a value (JsonElement included: it reads an immutable document) or a string. A List or
/// Dictionary member would let the events applied to the worker's held copy change the job the worker still holds
/// (JobJournal), so adding one fails here first. Then is what JobStreamAppend stores in place of Marten's projection, so
/// it must apply every event the projection does. Pure: no host, no database.
/// </summary>
public sealed class when_a_job_is_copied
{
    [Fact]
    public void every_member_of_a_job_is_a_value_or_a_string()
    {
        var fields = typeof(Job).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

        Assert.NotEmpty(fields);
        Assert.All(fields, field => Assert.True(
            field.FieldType.IsValueType || field.FieldType == typeof(string) || field.FieldType == typeof(JsonElement),
            $"Job.{field.Name} is a {field.FieldType.Name}, which a MemberwiseClone copy would share"));
    }

    [Fact]
    public void then_applies_every_event_a_job_has_an_apply_for_and_counts_the_version()
    {
        var eventTypes = typeof(Job).GetMethods(BindingFlags.Instance | BindingFlags.Public)
            .Where(m => m.Name == nameof(Job.Apply) && m.GetParameters().Length == 1)
            .Select(m => m.GetParameters()[0].ParameterType)
            .ToList();
        Assert.Equal(19, eventTypes.Count);

        foreach (var type in eventTypes)
        {
            var job = new Job { Version = 4 };
            var after = job.Then([System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(type)]);
            Assert.Equal((4L, 5L), (job.Version, after.Version));
        }
        Assert.Throws<ArgumentException>(() => new Job().Then(["not an event"]));
    }

    [Fact]
    public void then_applies_as_the_apply_methods_do()
    {
        var id = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var started = new Job { Id = id, State = JobState.Queued, Version = 1 }.Then([new JobPossibleDuplicate(id, 1, now), new JobStarted(id, 2, "w", now)]);

        Assert.Equal((JobState.Started, 2, 1, 3L), (started.State, started.Attempts, started.PossibleDuplicates, started.Version));
    }

    [Fact]
    public void a_copy_changes_apart_from_its_original()
    {
        var original = new Job { Id = Guid.NewGuid(), State = JobState.Started, Attempts = 1, Version = 2 };

        var copy = original.Copy();
        copy.Apply(new JobFinished(original.Id, 1, DateTimeOffset.UtcNow, null));

        Assert.Equal((JobState.Started, (DateTimeOffset?)null), (original.State, original.FinishedAt));
        Assert.Equal(JobState.Finished, copy.State);
    }
}
