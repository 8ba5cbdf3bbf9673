using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Templates;

public sealed record CreateSharedTemplate(
    [property: Required, Description("Unique among shared templates. A service's own template with the same key wins over this one for that service.")] string? Key,
    [property: Required, Description("The adapter type it renders params for.")] string? Type,
    [property: Required] string? DefaultLocale,
    [property: Required, Description("Per locale, a JSON object shaped like the type's params whose string values are Liquid.")] Dictionary<string, JsonElement>? Variants,
    [property: Required, Description("The services that see it (at least one).")] List<Guid>? Services);

public sealed record SharedTemplateAdded(Guid Id, string Key, string Type, long Version) : CreatedResource($"/admin/templates/{Id}");

public static class CreateSharedTemplateEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(CreateSharedTemplate command, IQuerySession session)
    {
        var errors = new List<(string, string)>();
        if (TemplateInput.KeyError(command.Key) is { } keyError) errors.Add(("key", keyError));
        if (TemplateInput.TypeError(command.Type) is { } typeError) errors.Add(("type", typeError));
        errors.AddRange(TemplateInput.CheckVariants(command.Variants ?? [], command.DefaultLocale).Errors);
        if (command.Services is not { Count: > 0 } services) errors.Add(("services", "At least one service."));
        else
        {
            var ids = services.Distinct().ToArray();
            var known = await session.Query<ServiceAccount>().Where(s => ids.Contains(s.Id)).Select(s => s.Id).ToListAsync();
            foreach (var missing in ids.Except(known)) errors.Add(("services", $"No service {missing}."));
        }
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());
        return await session.Query<Template>().AnyAsync(t => t.OwnerId == Guid.Empty && t.Key == command.Key)
            ? Problems.Conflict($"A shared template '{command.Key}' already exists.")
            : WolverineContinue.NoProblems;
    }

    [WolverinePost("/admin/templates", OperationId = "createSharedTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Create a shared template")]
    [EndpointDescription("A template the chosen services see next to their own (read-only to them); a service's own template with the same key wins over it.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (SharedTemplateAdded, IStartStream) Post(CreateSharedTemplate command, ClaimsPrincipal user, TimeProvider clock)
    {
        var created = CreateTemplateEndpoint.Creation(command.Key!, command.Type!, command.DefaultLocale, command.Variants!, Guid.Empty,
            command.Services!.Distinct().ToList(), user.Actor(), clock.GetUtcNow());
        return (new SharedTemplateAdded(created.TemplateId, created.Key, created.Type, 1), MartenOps.StartStream<Template>(created.TemplateId, created));
    }
}
