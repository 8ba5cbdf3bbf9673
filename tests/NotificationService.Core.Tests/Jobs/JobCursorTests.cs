using Microsoft.AspNetCore.DataProtection;
using NotificationService.Core.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>The job listing's cursor as a codec, without a host: opaque, exact, and refused when it was not ours.</summary>
public sealed class JobCursorTests
{
    private static readonly IDataProtectionProvider Keys = new EphemeralDataProtectionProvider();
    private static readonly JobCursor Cursor = new(Guid.NewGuid(), new DateTimeOffset(2026, 11, 30, 8, 15, 42, TimeSpan.FromHours(2)).AddTicks(1234567), Guid.NewGuid());

    [Fact]
    public void a_cursor_reads_back_exactly_to_the_tick()
    {
        var decoded = JobCursor.Decode(Keys, Cursor.Encode(Keys), Cursor.ServiceId);

        Assert.NotNull(decoded);
        Assert.Equal(Cursor.ServiceId, decoded.ServiceId);
        Assert.Equal(Cursor.JobId, decoded.JobId);
        Assert.Equal(Cursor.CreatedAt.UtcTicks, decoded.CreatedAt.UtcTicks);
    }

    [Fact]
    public void the_cursor_shows_nothing_of_what_it_holds()
    {
        var text = Cursor.Encode(Keys);

        Assert.DoesNotContain(Cursor.JobId.ToString("N"), text, StringComparison.OrdinalIgnoreCase);
        Assert.All(text, c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_', $"'{c}' needs escaping in a query string"));
    }

    [Fact]
    public void every_single_changed_character_is_refused()
    {
        var text = Cursor.Encode(Keys);
        for (var i = 0; i < text.Length; i++)
        {
            var changed = text.ToCharArray();
            changed[i] = changed[i] == 'A' ? 'B' : 'A';
            Assert.Null(JobCursor.Decode(Keys, new string(changed), Cursor.ServiceId));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("not base64!")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void what_is_not_a_cursor_is_refused(string text) => Assert.Null(JobCursor.Decode(Keys, text, Cursor.ServiceId));

    [Fact]
    public void another_services_cursor_is_refused() => Assert.Null(JobCursor.Decode(Keys, Cursor.Encode(Keys), Guid.NewGuid()));

    [Fact]
    public void a_cursor_made_with_another_key_ring_is_refused() =>
        Assert.Null(JobCursor.Decode(Keys, Cursor.Encode(new EphemeralDataProtectionProvider()), Cursor.ServiceId));
}
