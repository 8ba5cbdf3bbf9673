using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using System.Text.Json;
using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Contracts.AdapterTypes;
using NotificationService.Core.Auth;
using NotificationService.Core.Infrastructure;
using Wolverine.Http;
using Wolverine.Marten;

namespace NotificationService.Core.Templates;

public sealed record CreateTemplate(
    [property: Required, Description("Unique among your templates: lower-case letters, digits, '.', '_' or '-'.")] string? Key,
    [property: Required, Description("The adapter type it renders params for (email, telegram, sms, webhook, vk, avito).")] string? Type,
    [property: Required, Description("The locale used when the asked one and its language have no variant.")] string? DefaultLocale,
    [property: Required, Description("Per locale ('en', 'de-AT'), a JSON object shaped like the type's params: its string values are Liquid templates over `data`; a string that is exactly `{{ name }}` takes that data value as it is (e.g. a list of addresses).")] Dictionary<string, JsonElement>? Variants);

/// <summary>201: the template is stored at version 1; GET its Location for the whole of it.</summary>
public sealed record TemplateAdded(Guid Id, string Key, string Type, long Version) : CreatedResource($"/v1/templates/{Key}");

public static class CreateTemplateEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(CreateTemplate command, ClaimsPrincipal user, IQuerySession session)
    {
        var errors = new List<(string, string)>();
        if (TemplateInput.KeyError(command.Key) is { } keyError) errors.Add(("key", keyError));
        if (TemplateInput.TypeError(command.Type) is { } typeError) errors.Add(("type", typeError));
        errors.AddRange(TemplateInput.CheckVariants(command.Variants ?? [], command.DefaultLocale).Errors);
        if (errors.Count > 0) return Problems.Invalid(errors.ToArray());
        var serviceId = user.ServiceId();
        return await session.Query<Template>().AnyAsync(t => t.OwnerId == serviceId && t.Key == command.Key)
            ? Problems.Conflict($"You already have a template '{command.Key}'.")
            : WolverineContinue.NoProblems;
    }

    [WolverinePost("/v1/templates", OperationId = "createTemplate")]
    [Tags("Templates")]
    [EndpointSummary("Create a template")]
    [EndpointDescription("A Liquid template for one adapter type, with a variant per locale. Use it in an offer's target as `{\"adapter\":...,\"template\":key,\"locale\":...,\"data\":{...}}` instead of `params`.")]
    [ProducesResponseType<ValidationProblemDetails>(422, "application/problem+json")]
    [ProducesResponseType<ProblemDetails>(409, "application/problem+json")]
    public static (TemplateAdded, IStartStream) Post(CreateTemplate command, ClaimsPrincipal user, TimeProvider clock)
    {
        var created = Creation(command.Key!, command.Type!, command.DefaultLocale, command.Variants!, user.ServiceId(), [], user.Actor(), clock.GetUtcNow());
        return (new TemplateAdded(created.TemplateId, created.Key, created.Type, 1), MartenOps.StartStream<Template>(created.TemplateId, created));
    }

    /// <summary>The creation event, with type and locales in their one spelling (shared by the admin's create).</summary>
    public static TemplateCreated Creation(string key, string type, string? defaultLocale, Dictionary<string, JsonElement> variants,
        Guid ownerId, IReadOnlyList<Guid> sharedWith, string by, DateTimeOffset at) =>
        new(Guid.NewGuid(), key, ownerId, KnownAdapterTypes.Find(type)!.Name, TemplateInput.Normalize(defaultLocale)!,
            TemplateInput.CheckVariants(variants, defaultLocale).Variants, sharedWith, by, at);
}
