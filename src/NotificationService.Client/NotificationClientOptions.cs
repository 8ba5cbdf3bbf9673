namespace NotificationService.Client;

/// <summary>Where the Notification Service is and which key the client sends.</summary>
public sealed class NotificationClientOptions
{
    /// <summary>The service's root, e.g. <c>https://ns.example.com/</c> (a path prefix is kept: requests go to <c>{BaseAddress}v1/...</c>).</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>
    /// A service key (<c>nss_...</c>) for <see cref="NotificationClient"/>, an admin key for <see cref="NotificationAdminClient"/>.
    /// Sent as <c>Authorization: Bearer</c>. Only <see cref="NotificationClient.RegisterAsync"/> works without one.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>The HttpClient's timeout for one request (default 100 s, HttpClient's own).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>The problems with these options, empty when they are usable.</summary>
    public IReadOnlyList<string> Check(bool keyRequired)
    {
        var problems = new List<string>();
        if (BaseAddress is null) problems.Add("BaseAddress is required.");
        else if (!BaseAddress.IsAbsoluteUri || BaseAddress.Scheme is not ("http" or "https"))
            problems.Add($"BaseAddress must be an absolute http or https URI; got '{BaseAddress}'.");
        if (keyRequired && string.IsNullOrWhiteSpace(ApiKey)) problems.Add("ApiKey is required.");
        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan) problems.Add("Timeout must be positive.");
        return problems;
    }

    /// <summary>
    /// The base address with a trailing slash, so that relative paths keep its path prefix
    /// (<c>https://host/ns</c> + <c>v1/offers</c> would otherwise be <c>https://host/v1/offers</c>).
    /// </summary>
    internal Uri NormalisedBaseAddress =>
        BaseAddress!.AbsoluteUri.EndsWith('/') ? BaseAddress : new Uri(BaseAddress.AbsoluteUri + "/");
}
