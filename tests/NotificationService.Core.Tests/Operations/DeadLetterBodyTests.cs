using NotificationService.Core.Operations;

namespace NotificationService.Core.Tests.Operations;

/// <summary>The worker role can write any bytes into a dead letter's body: none of them may fail a listing.</summary>
public sealed class DeadLetterBodyTests
{
    // Review 7: random and truncated envelopes, as a malformed row would hold them.
    [Fact]
    public void a_malformed_body_is_not_a_jobs_message_and_never_throws()
    {
        var random = new Random(42);
        for (var i = 0; i < 5000; i++)
        {
            var body = new byte[random.Next(1, 200)];
            random.NextBytes(body);
            Assert.Null(DeadLetters.JobMessage(body));
        }
    }
}
