using NotificationService.Core.Jobs;
using NotificationService.Storage;
using NotificationService.Storage.Jobs;

namespace NotificationService.Core.Tests.Jobs;

/// <summary>
/// A job search's best plan depends on its values, and prepared it could go over to PostgreSQL's generic plan for all of
/// them (bench/README.md, "A search's plan, switched to generic on a connection"). So every statement of the job listings
/// carries the mark that keeps it from being prepared.
/// </summary>
public sealed class when_a_job_search_is_planned
{
    private static readonly JobFilter Filter = new(Guid.NewGuid(), JobState.Queued, "email", null, null, null,
        new Dictionary<string, string> { ["kind"] = "receipt" });

    public static TheoryData<string, string> Statements() => new()
    {
        { "first page", Filter.PageSql(null, 50).Sql },
        { "page by cursor", Filter.PageSql(new JobCursor(Guid.Empty, DateTimeOffset.UtcNow, Guid.NewGuid()), 50).Sql },
        { "page by number", Filter.PageSql(null, 50, offset: 100).Sql },
        { "page of counted matches", Filter.PageSql(null, 50, ids: [Guid.NewGuid()]).Sql },
        { "matches counted", Filter.MatchIdsSql(1001).Sql },
        { "counts by adapter and state", Filter.CountByAdapterAndStateSql().Sql },
    };

    [Theory]
    [MemberData(nameof(Statements))]
    public void every_statement_carries_the_planned_each_time_mark(string statement, string sql) =>
        Assert.True(sql.Contains(PreparedStatements.PlannedEachTime, StringComparison.Ordinal), $"{statement}: {sql}");
}
