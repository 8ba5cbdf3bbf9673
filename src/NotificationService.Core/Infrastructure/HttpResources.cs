using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Metadata;
using Wolverine.Http;

namespace NotificationService.Core.Infrastructure;

/// <summary>A 201 response whose body is the resource itself (not wrapped) and whose Location header points at it.</summary>
public abstract record CreatedResource([property: JsonIgnore] string Location) : IHttpAware
{
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status201Created, BodyType(method), ["application/json"]));

    /// <summary>
    /// The type Wolverine writes as the body: an endpoint returning a tuple (response, events, messages) answers with its
    /// first item, so that, not the tuple, is what the OpenAPI document must describe (a tuple shows as an empty object).
    /// </summary>
    internal static Type BodyType(MethodInfo method)
    {
        var type = method.ReturnType;
        if (type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(Task<>) || type.GetGenericTypeDefinition() == typeof(ValueTask<>)))
            type = type.GetGenericArguments()[0];
        return type.IsGenericType && type.FullName!.StartsWith("System.ValueTuple`", StringComparison.Ordinal) ? type.GetGenericArguments()[0] : type;
    }

    void IHttpAware.Apply(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = Location;
    }
}

/// <summary>A 202 response: the request is stored and its work goes on asynchronously; Location is where to follow it.</summary>
public abstract record AcceptedResource([property: JsonIgnore] string Location) : IHttpAware
{
    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status202Accepted, CreatedResource.BodyType(method), ["application/json"]));

    void IHttpAware.Apply(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.Location = Location;
    }
}
