using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Retention;

/// <summary>
/// A JSON merge patch of the service's retention, in days: a field left out keeps its value, <c>null</c> goes back to the
/// configured default. JSON values, not ints, so that "left out" and "null" can be told apart.
/// </summary>
public sealed record SetRetention(JsonElement ParamsDays, JsonElement JobsDays, JsonElement IdempotencyDays);

public static class SetRetentionEndpoint
{
    private static readonly (string Field, int Min)[] Fields = [("paramsDays", 0), ("jobsDays", 1), ("idempotencyDays", 1)];

    public static ProblemDetails Validate(SetRetention command)
    {
        var errors = new List<(string, string)>();
        foreach (var ((field, min), value) in Fields.Zip(Values(command)))
        {
            if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) continue;
            if (value.ValueKind != JsonValueKind.Number)
                return new ProblemDetails { Status = StatusCodes.Status400BadRequest, Title = "The request body is not valid.", Detail = $"{field}: expected an integer or null." };
            if (!value.TryGetInt32(out var days) || days < min || days > RetentionSettings.MaxDays)
                errors.Add((field, $"Must be a whole number of days from {min} to {RetentionSettings.MaxDays}, or null for the default."));
        }
        return errors.Count > 0 ? Problems.Invalid(errors.ToArray()) : WolverineContinue.NoProblems;
    }

    [WolverinePatch("/admin/services/{id}/retention", OperationId = "setServiceRetention")]
    [Tags("Retention")]
    [EndpointSummary("Set a service's retention")]
    [EndpointDescription("How long this service's job params, jobs and idempotency keys are kept, in days, as a JSON merge patch (see the README's Retention section).")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (RetentionView, Events) Patch(
        SetRetention command, [WriteAggregate] ServiceAccount service, RetentionSettings settings, ClaimsPrincipal user, TimeProvider clock)
    {
        var current = service.Retention;
        var values = Values(command);
        var merged = new ServiceRetention(Merge(values[0], current.ParamsDays), Merge(values[1], current.JobsDays), Merge(values[2], current.IdempotencyDays));
        return merged == current
            ? (RetentionView.For(current, settings), [])
            : (RetentionView.For(merged, settings), [new ServiceRetentionSet(service.Id, merged, user.Actor(), clock.GetUtcNow())]);
    }

    private static JsonElement[] Values(SetRetention command) => [command.ParamsDays, command.JobsDays, command.IdempotencyDays];

    private static int? Merge(JsonElement patch, int? current) => patch.ValueKind switch
    {
        JsonValueKind.Undefined => current,
        JsonValueKind.Null => null,
        _ => patch.GetInt32(),
    };
}
