using System.Reflection;
using System.Text.Json;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// Job.Copy, After and AfterStart copy with MemberwiseClone, which shares every reference member between the copies: safe
/// only while each member is a value (JsonElement included: it reads an immutable document) or a string. A List or
/// Dictionary member would let the projection's Apply on the worker's held copy change the job the worker still holds
/// (JobJournal.Hold), so adding one fails here first. Pure: no host, no database.
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
    public void a_copy_changes_apart_from_its_original()
    {
        var original = new Job { Id = Guid.NewGuid(), State = JobState.Started, Attempts = 1, Version = 2 };

        var copy = original.Copy();
        copy.Apply(new JobFinished(original.Id, 1, DateTimeOffset.UtcNow, null));

        Assert.Equal((JobState.Started, (DateTimeOffset?)null), (original.State, original.FinishedAt));
        Assert.Equal(JobState.Finished, copy.State);
    }
}
