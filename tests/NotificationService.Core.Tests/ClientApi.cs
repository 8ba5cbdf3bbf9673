using Microsoft.Extensions.Hosting;
using NotificationService.Contracts;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Jobs;
using NotificationService.Core.Offers;
using NotificationService.Storage.Jobs;
using NotificationService.Testing;

namespace NotificationService.Core.Tests;

/// <summary>What a client service does, in the vocabulary of the tests.</summary>
public static class ClientApi
{
    public static object EmailTarget(string adapter, string to, string subject = "Hello", string text = "Hi there") =>
        new { adapter, @params = new { to, subject, text } };

    public static Task<OfferAccepted> CreateOfferAsync(this SystemFixture system, Tenant tenant, object offer) =>
        system.SendAsync<OfferAccepted>(HttpMethod.Post, "/v1/offers", tenant.ApiKey, offer, expect: 202);

    /// <summary>
    /// Posts an offer and returns once <paramref name="worker"/> (the shared email worker by default) has handled
    /// <paramref name="deliveries"/> deliveries of its jobs, its retries included, and none of them still runs (a
    /// Wolverine tracked session over the core and that worker): the outcome is committed, nothing to poll for.
    /// </summary>
    public static async Task<OfferAccepted> DeliverOfferAsync(this SystemFixture system, Tenant tenant, object offer, int deliveries = 1, IHost? worker = null)
    {
        OfferAccepted? accepted = null;
        await system.TrackAsync(async () => accepted = await system.CreateOfferAsync(tenant, offer),
            new Handled<DeliverJob>(m => accepted?.Jobs.Any(j => j.Id == m.JobId) == true, count: deliveries), workers: worker is null ? [] : [worker]);
        return accepted!;
    }

    public static Task<JobView> GetJobAsync(this SystemFixture system, Tenant tenant, Guid jobId) =>
        system.SendAsync<JobView>(HttpMethod.Get, $"/v1/jobs/{jobId}", tenant.ApiKey, expect: 200);

    public static Task<List<HistoryEntry>> GetJobEventsAsync(this SystemFixture system, Tenant tenant, Guid jobId) =>
        system.SendAsync<List<HistoryEntry>>(HttpMethod.Get, $"/v1/jobs/{jobId}/events", tenant.ApiKey, expect: 200);

    public static Task<(int Status, System.Text.Json.JsonElement Body)> CancelJobAsync(this SystemFixture system, Tenant tenant, Guid jobId) =>
        system.SendForStatusAsync(HttpMethod.Post, $"/v1/jobs/{jobId}/cancel", tenant.ApiKey);

    public static Task<JobView> WaitForStateAsync(this SystemFixture system, Tenant tenant, Guid jobId, JobState state, TimeSpan? timeout = null) =>
        Eventually.Until(() => system.GetJobAsync(tenant, jobId), job => job.State == state, timeout, $"job {jobId} to be {state}");

    public static async Task<List<string>> EventTypesAsync(this SystemFixture system, Tenant tenant, Guid jobId) =>
        (await system.GetJobEventsAsync(tenant, jobId)).Select(e => e.Type).ToList();

    public static Task<JobView> WaitForTerminalAsync(this SystemFixture system, Tenant tenant, Guid jobId, TimeSpan? timeout = null) =>
        Eventually.Until(() => system.GetJobAsync(tenant, jobId),
            job => job.State is JobState.Finished or JobState.Failed or JobState.Expired or JobState.Canceled,
            timeout, $"job {jobId} to end");
}
