using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Services;
using Wolverine.Http;
using Wolverine.Persistence;

namespace NotificationService.Core.Limits;

public static class GetServiceLimitsEndpoint
{
    /// <summary>For the admin: the limits set for the service and the ones that apply (GET /admin/services/{id} shows the former).</summary>
    [WolverineGet("/admin/services/{id}/limits", OperationId = "getServiceLimits")]
    [Tags("Limits")]
    [EndpointSummary("Get a service's limits")]
    [EndpointDescription("The limits set for the service and the ones that apply (the configured defaults fill the rest).")]
    public static ServiceLimitsView Get(Guid id, [Entity] ServiceAccount service, LimitDefaults defaults) =>
        new(service.Id, service.Limits, defaults.For(service.Limits));
}
