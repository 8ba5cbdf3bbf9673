using System.Text.RegularExpressions;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// Marten's <c>MatchesSql(sql, params object[])</c> in a LINQ query costs about 2 ms of CPU per query: Marten compiles the
/// params array's expression into a delegate every time it parses the query, since it evaluates only constants and
/// member reads without compiling. A captured <c>WhereFragment</c> passed to <c>MatchesSql(fragment)</c> is a member read
/// (bench/README.md, "Listings: no compiled LINQ"). Read from the source, as the overloads differ only in their arguments.
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
        Assert.True(calls.Count == 0, "MatchesSql with SQL text (use MatchesSql(new WhereFragment(sql, parameters)) from a local):\n" +
                                      string.Join("\n", calls));
        // The pattern finds what it is for.
        Assert.Matches(SqlAndParameters(), """x => x.MatchesSql("d.id = ANY(?)", ids)""");
        Assert.Matches(SqlAndParameters(), """t.MatchesSql($"NOT EXISTS (SELECT 1 FROM {schema}.t)", id)""");
        Assert.DoesNotMatch(SqlAndParameters(), "x => x.MatchesSql(byId)");
    }

    // A string literal (plain, interpolated or verbatim) or a char placeholder as the first argument.
    [GeneratedRegex("""MatchesSql\(\s*(\$|@|\$@|@\$)?["']""")]
    private static partial Regex SqlAndParameters();
}
