using Marten;
using Marten.Internal.Sessions;
using Npgsql;

namespace NotificationService.Storage;

/// <summary>A Marten session's own connection, for the SQL a query needs that Marten cannot write.</summary>
public static class SessionConnection
{
    /// <summary>
    /// The session's connection, opened without blocking a thread. Marten's <see cref="IQuerySession.Connection"/> opens
    /// it with Npgsql's synchronous Open: a blocking connect on a thread-pool thread, or, with every pooled connection in
    /// use, a blocking wait for one that no cancellation ends, only the connection string's Timeout. Beginning the
    /// session's transaction opens it asynchronously, and the getter then hands it over as it is. (The getter would begin
    /// that transaction too: a query session reads in one.)
    /// </summary>
    public static async ValueTask<NpgsqlConnection> OpenConnectionAsync(this IQuerySession session, CancellationToken ct)
    {
        // Every Marten session is a QuerySession; IQuerySession alone does not offer the asynchronous begin.
        await ((QuerySession)session).BeginTransactionAsync(ct);
        return session.Connection!;
    }
}
