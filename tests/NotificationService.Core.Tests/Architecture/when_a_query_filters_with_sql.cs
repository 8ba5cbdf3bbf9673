using System.Text.RegularExpressions;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// Marten reads the parameters of <c>MatchesSql(sql, params object[])</c> by reflection where each is a constant or a
/// member read, and otherwise (a method call such as <c>id.ToString()</c>, a <c>new</c>) compiles the parameter array into a
/// delegate every time it parses the query: about 4 ms a request for the offer metadata filter, whose query was parsed twice
/// (bench/README.md, "Listings: no compiled LINQ"). One rule keeps every call site cheap whatever its parameters: build a
/// <c>WhereFragment</c> in a local and pass the local to <c>MatchesSql(fragment)</c>. Read from the source, as the overloads
/// differ only in their arguments.
/// </summary>
public sealed partial class when_a_query_filters_with_sql
{
    [Fact]
    public void it_passes_a_fragment_not_sql_and_parameters()
    {
        var sources = Path.Combine(WorkerProcess.RepositoryRoot(), "src");
        var calls = Directory.EnumerateFiles(sources, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(f => SqlAndParameters().Matches(File.ReadAllText(f)).Select(m => $"{Path.GetRelativePath(sources, f)}: {m.Value}"))
            .ToList();
        Assert.True(calls.Count == 0, "MatchesSql given SQL text or a new object (build the WhereFragment in a local, pass the local):\n" +
                                      string.Join("\n", calls));
        // The pattern finds what it is for.
        Assert.Matches(SqlAndParameters(), """x => x.MatchesSql("d.id = ANY(?)", ids)""");
        Assert.Matches(SqlAndParameters(), """t.MatchesSql($"NOT EXISTS (SELECT 1 FROM {schema}.t)", id)""");
        Assert.Matches(SqlAndParameters(), """x => x.MatchesSql(new WhereFragment("d.id = ANY(?)", ids))""");
        Assert.DoesNotMatch(SqlAndParameters(), "x => x.MatchesSql(byId)");
    }

    // A string literal (plain, interpolated or verbatim), a char placeholder or a new object as the first argument.
    [GeneratedRegex("""MatchesSql\(\s*(new\b|(\$|@|\$@|@\$)?["'])""")]
    private static partial Regex SqlAndParameters();
}
