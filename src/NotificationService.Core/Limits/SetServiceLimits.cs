using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Limits;

/// <summary>
/// A JSON merge patch (RFC 7396) of the service's limits: a field left out keeps its value, a number sets it, null puts
/// it back to the configured default. Raw JSON values, because a typed field could not tell "left out" from null.
/// </summary>
public sealed record UpdateServiceLimits(
    JsonElement OffersPerSecond, JsonElement Burst, JsonElement JobsPerOffer, JsonElement PendingJobs, JsonElement MaxBodyBytes, JsonElement MaxParamsBytes);

/// <summary>The limits the admin set (null: the default) and the ones that apply.</summary>
public sealed record ServiceLimitsView(Guid ServiceId, ServiceLimits Own, EffectiveLimits Effective);

public static class SetServiceLimitsEndpoint
{
    public static ProblemDetails Validate(UpdateServiceLimits command, ServiceAccount service)
    {
        var (limits, wrongType) = Merge(service.Limits, command);
        if (wrongType.Count > 0)
            return new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest, Title = "The request body is not valid.",
                Detail = string.Join(" ", wrongType.Select(e => $"{e.Field}: {e.Message}")),
            };
        return LimitDefaults.Check(limits) is { Count: > 0 } errors ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    [WolverinePatch("/admin/services/{id}/limits", OperationId = "setServiceLimits")]
    [Tags("Limits")]
    [EndpointSummary("Set a service's limits")]
    [EndpointDescription("Sets the service's own limits (offers per second, burst, pending jobs, jobs per offer, body and params sizes); a null field falls back to the default.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (ServiceLimitsView, Events) Patch(
        UpdateServiceLimits command, [WriteAggregate] ServiceAccount service, LimitDefaults defaults, ClaimsPrincipal user, TimeProvider clock)
    {
        var limits = Merge(service.Limits, command).Limits;
        var view = new ServiceLimitsView(service.Id, limits, defaults.For(limits));
        return limits == service.Limits ? (view, []) : (view, [new ServiceLimitsChanged(service.Id, limits, user.Actor(), clock.GetUtcNow())]);
    }

    /// <summary>The merged limits, and the fields whose JSON type is wrong (a 400, like every other endpoint's).</summary>
    public static (ServiceLimits Limits, List<(string Field, string Message)> WrongType) Merge(ServiceLimits current, UpdateServiceLimits patch)
    {
        var wrong = new List<(string, string)>();
        var merged = current with
        {
            OffersPerSecond = Number(patch.OffersPerSecond, "offersPerSecond", current.OffersPerSecond, wrong),
            Burst = Integer(patch.Burst, "burst", current.Burst, wrong),
            JobsPerOffer = Integer(patch.JobsPerOffer, "jobsPerOffer", current.JobsPerOffer, wrong),
            PendingJobs = Integer(patch.PendingJobs, "pendingJobs", current.PendingJobs, wrong),
            MaxBodyBytes = Integer(patch.MaxBodyBytes, "maxBodyBytes", current.MaxBodyBytes, wrong),
            MaxParamsBytes = Integer(patch.MaxParamsBytes, "maxParamsBytes", current.MaxParamsBytes, wrong),
        };
        return (merged, wrong);
    }

    private static double? Number(JsonElement value, string field, double? current, List<(string, string)> wrong) => value.ValueKind switch
    {
        JsonValueKind.Undefined => current,
        JsonValueKind.Null => null,
        JsonValueKind.Number => value.GetDouble(),
        _ => Wrong<double?>(field, "expected a number or null", current, wrong),
    };

    private static int? Integer(JsonElement value, string field, int? current, List<(string, string)> wrong) => value.ValueKind switch
    {
        JsonValueKind.Undefined => current,
        JsonValueKind.Null => null,
        JsonValueKind.Number when value.TryGetInt32(out var n) => n,
        _ => Wrong<int?>(field, "expected an integer within range, or null", current, wrong),
    };

    private static T Wrong<T>(string field, string message, T current, List<(string, string)> wrong)
    {
        wrong.Add((field, message));
        return current;
    }
}
