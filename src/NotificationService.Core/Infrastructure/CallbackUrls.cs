namespace NotificationService.Core.Infrastructure;

/// <summary>
/// The rule for a URL the service calls back: a registered callback's and an offer's callbackUrl override. Here rather
/// than in Callbacks/, which builds on offers, so that creating an offer need not reach up into it.
/// </summary>
public static class CallbackUrls
{
    public const int MaxLength = 2000;

    /// <summary>An absolute http or https URL without user info, or the reason it is not.</summary>
    public static string? Check(string? url) =>
        string.IsNullOrWhiteSpace(url) ? "An absolute http or https URL is required."
        : url.Length > MaxLength ? $"At most {MaxLength} characters."
        : !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ? "Must be an absolute http or https URL."
        : uri.UserInfo.Length > 0 ? "Must not carry a user name or password; the signature authenticates the call."
        : null;
}
