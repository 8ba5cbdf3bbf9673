using Marten;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Services;
using Wolverine.Http;

namespace NotificationService.Core.ServiceAdmin;

/// <summary>
/// A service's name is how people tell tenants apart, so it is unique (after trimming). The check here gives the clear
/// answer; the unique index on the ServiceAccount document decides a race, whose loser gets 409 from its commit.
/// </summary>
public static class ServiceNames
{
    public static async Task<ProblemDetails> CheckFreeAsync(string name, IQuerySession session, Guid? renamed = null)
    {
        var trimmed = name.Trim();
        return await session.Query<ServiceAccount>().AnyAsync(s => s.Name == trimmed && s.Id != renamed)
            ? Problems.Conflict($"A service named '{trimmed}' already exists.")
            : WolverineContinue.NoProblems;
    }

    public static ProblemDetails Check(string? name) =>
        string.IsNullOrWhiteSpace(name) || name.Trim().Length > 100
            ? Problems.Invalid(("name", "A name of 1 to 100 characters is required."))
            : WolverineContinue.NoProblems;
}
