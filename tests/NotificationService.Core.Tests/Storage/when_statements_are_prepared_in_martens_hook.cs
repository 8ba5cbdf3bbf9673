using Microsoft.Extensions.DependencyInjection;
using NotificationService.Hosting;
using NotificationService.Storage;

namespace NotificationService.Core.Tests.Storage;

/// <summary>
/// Marten's hook before a statement runs is synchronous, so <see cref="PreparedStatements"/> blocks a thread for the first
/// use of a statement on each connection, and on Linux the socket's answer can need another pool thread to hand it over
/// (PreparedStatements.ReserveThreadsFor). Every process that prepares there keeps a thread for each connection that can
/// block plus one per core: without that the core stalled 8-20 s at a time once callbacks ran beside the offers
/// (bench/README.md, "Callbacks: a thread-pool stall").
/// </summary>
public sealed class when_statements_are_prepared_in_martens_hook
{
    [Fact]
    public void the_thread_pool_keeps_a_thread_for_every_pooled_connection_and_each_core()
    {
        // Larger than any pool this test process configures elsewhere, so only this call can have raised the minimum so far.
        const int poolSize = 300;
        new ServiceCollection().AddNotificationMarten($"Host=127.0.0.1;Port=55432;Database=ns_test;Username=ns_core;Maximum Pool Size={poolSize}", "wolverine");

        ThreadPool.GetMinThreads(out var workers, out _);
        Assert.True(workers >= poolSize + Environment.ProcessorCount, $"{workers} threads without delay, {poolSize + Environment.ProcessorCount} needed");
    }
}
