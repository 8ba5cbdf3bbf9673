namespace NotificationService.Client;

/// <summary>
/// The HTTP operation a client method calls, as the server's OpenAPI document names it (method and path template). A
/// test compares these with the document, so an operation the server gains cannot go without a client method unnoticed.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ApiOperationAttribute(string method, string path) : Attribute
{
    public string Method { get; } = method;
    public string Path { get; } = path;
}
