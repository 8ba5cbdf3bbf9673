using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NotificationService.Storage;

namespace NotificationService.Hosting;

/// <summary>
/// The core, as owner of the store, grants the workers' role (<c>Database:WorkerRole</c>) what a worker needs, right after
/// Marten's migration at start-up (registered after Marten, so it starts after it): a migration that adds or recreates a
/// table is followed by its grant. A role that does not exist in the cluster is skipped with a warning (processes that all
/// connect as one role need no grants).
/// </summary>
public sealed class WorkerGrants(string postgres, string role, ILogger<WorkerGrants> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(NotificationStore.PooledConnectionString(postgres));
        await connection.OpenAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)", connection) { Parameters = { new() { Value = role } } })
        {
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                logger.LogWarning("The workers' database role {Role} (Database:WorkerRole) does not exist; no grants applied (db/roles.sql creates it)", role);
                return;
            }
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var grant = new NpgsqlCommand(WorkerRole.GrantsSql(role), connection, transaction)) await grant.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class WorkerGrantsConfiguration
{
    /// <summary>Validated here, at start-up: the name goes into GRANT statements as an identifier.</summary>
    public static IServiceCollection AddWorkerGrants(this IServiceCollection services, IConfiguration configuration, string postgres)
    {
        var role = configuration["Database:WorkerRole"] ?? WorkerRole.DefaultName;
        if (role.Length == 0) return services; // explicitly off
        if (!WorkerRole.ValidName().IsMatch(role))
            throw new InvalidOperationException($"Set Database:WorkerRole to a PostgreSQL role name of lower-case letters, digits and '_' (got '{role}'), or to an empty value for no grants.");
        return services.AddHostedService(sp => new WorkerGrants(postgres, role, sp.GetRequiredService<ILogger<WorkerGrants>>()));
    }
}
