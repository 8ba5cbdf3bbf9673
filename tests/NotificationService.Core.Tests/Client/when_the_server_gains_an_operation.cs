using System.Reflection;
using System.Text.Json;
using NotificationService.Client;

namespace NotificationService.Core.Tests.Client;

/// <summary>
/// The client library follows the server's contract: every /v1 operation in the OpenAPI document has a method on
/// NotificationClient and every /admin one on NotificationAdminClient (matched by the [ApiOperation] method and path),
/// so an endpoint added to the server fails this test until the client has it.
/// </summary>
public sealed class when_the_server_gains_an_operation(SystemFixture system) : IntegrationContext(system)
{
    private static readonly string[] Methods = ["get", "put", "post", "patch", "delete"];

    private static HashSet<string> ClientOperations<T>() =>
        typeof(T).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Select(m => m.GetCustomAttribute<ApiOperationAttribute>()).OfType<ApiOperationAttribute>()
            .Select(a => $"{a.Method.ToUpperInvariant()} {a.Path}").ToHashSet();

    [Fact]
    public async Task every_operation_in_the_openapi_document_has_a_client_method()
    {
        using var response = await System.Http.GetAsync("/openapi/v1.json");
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var server = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => Methods.Contains(op.Name)).Select(op => $"{op.Name.ToUpperInvariant()} {path.Name}"))
            .ToList();
        Assert.Contains("POST /v1/offers", server); // the document is the one expected, not an empty one

        var client = ClientOperations<NotificationClient>();
        var admin = ClientOperations<NotificationAdminClient>();
        var missing = server.Where(op => op.Split(' ')[1] switch
        {
            var p when p.StartsWith("/v1/", StringComparison.Ordinal) => !client.Contains(op),
            var p when p.StartsWith("/admin/", StringComparison.Ordinal) => !admin.Contains(op),
            _ => false, // /health, /openapi and /docs are not API operations
        }).ToList();

        Assert.True(missing.Count == 0, "Operations without a client method: " + string.Join(", ", missing));
    }

    [Fact]
    public void each_client_method_names_an_operation_of_its_own_api()
    {
        Assert.All(ClientOperations<NotificationClient>(), op => Assert.StartsWith("/v1/", op.Split(' ')[1]));
        Assert.All(ClientOperations<NotificationAdminClient>(), op => Assert.StartsWith("/admin/", op.Split(' ')[1]));
        // Every public async method of the clients says which operation it calls (SearchAllJobsAsync pages over SearchJobsAsync).
        var unmarked = typeof(NotificationClient).GetMethods().Concat(typeof(NotificationAdminClient).GetMethods())
            .Where(m => m.DeclaringType != typeof(object) && m.Name.EndsWith("Async") && m.Name != nameof(NotificationClient.SearchAllJobsAsync))
            .Where(m => m.GetCustomAttribute<ApiOperationAttribute>() is null).Select(m => m.Name).ToList();
        Assert.Empty(unmarked);
    }

    [Fact]
    public void every_client_method_takes_a_cancellation_token()
    {
        var without = typeof(NotificationClient).GetMethods().Concat(typeof(NotificationAdminClient).GetMethods())
            .Where(m => m.DeclaringType != typeof(object) && m.Name.EndsWith("Async"))
            .Where(m => m.GetParameters().LastOrDefault()?.ParameterType != typeof(CancellationToken)).Select(m => m.Name).ToList();
        Assert.Empty(without);
    }
}
