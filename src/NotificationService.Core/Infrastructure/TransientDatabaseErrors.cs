using Npgsql;

namespace NotificationService.Core.Infrastructure;

/// <summary>A PostgreSQL blip (a transient Npgsql error, a timeout, a dropped socket): worth waiting out and retrying.</summary>
public static class TransientDatabaseErrors
{
    public static bool Matches(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
            if (inner is NpgsqlException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException) return true;
        return false;
    }
}
