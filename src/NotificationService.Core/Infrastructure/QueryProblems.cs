using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace NotificationService.Core.Infrastructure;

/// <summary>
/// Wolverine's 400 for an unparseable query value names the .NET type it wanted ("System.Guid",
/// "NotificationService.Storage.Jobs.JobState"); a client needs the parameter and what to send instead.
/// </summary>
public static partial class QueryProblems
{
    public static void MakeReadable(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Status != StatusCodes.Status400BadRequest || problem.Detail is null || Unparseable().Match(problem.Detail) is not { Success: true } match) return;
        var type = match.Groups["type"].Value switch
        {
            "int" => typeof(int), "long" => typeof(long), "bool" => typeof(bool), "double" => typeof(double), "decimal" => typeof(decimal),
            var name => Type.GetType(name) ?? typeof(Storage.Jobs.JobState).Assembly.GetType(name) ?? typeof(QueryProblems).Assembly.GetType(name),
        };
        problem.Detail = $"{match.Groups["name"].Value}: expected {JsonBodies.Expected(type)}.";
    }

    [GeneratedRegex(@"^Query string parameter '(?<name>[^']*)' has the value '.*' which cannot be parsed to the expected type (?<type>\S+)$", RegexOptions.Singleline)]
    private static partial Regex Unparseable();
}
