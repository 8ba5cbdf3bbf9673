using NotificationService.Adapters.Runtime;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary>What an aborted send may claim: nothing is known of a channel that tracks nothing.</summary>
public sealed class SendProgressTests
{
    [Fact]
    public void an_untracked_send_may_always_have_been_delivered() => Assert.True(new SendProgress().PossiblyDelivered);

    [Fact]
    public void a_cancel_before_the_request_is_complete_aborts_it_and_it_was_not_delivered()
    {
        var progress = new SendProgress();
        using var cancel = new CancellationTokenSource();
        using var guard = progress.AbortUntilSent(cancel.Token);
        cancel.Cancel();
        Assert.True(guard.Token.IsCancellationRequested);
        Assert.False(progress.PossiblyDelivered);
    }

    [Fact]
    public void a_cancel_after_the_request_is_complete_no_longer_aborts_it()
    {
        var progress = new SendProgress();
        using var cancel = new CancellationTokenSource();
        using var guard = progress.AbortUntilSent(cancel.Token);
        progress.MarkSent();
        cancel.Cancel();
        Assert.False(guard.Token.IsCancellationRequested);
        Assert.True(progress.PossiblyDelivered);
    }
}
