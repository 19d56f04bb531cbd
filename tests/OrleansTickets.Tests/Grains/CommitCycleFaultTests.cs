using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A shard's own code failing inside a group commit, before anything is written: a disposed signer stands in for any
/// such fault. Its buyers must get a definite answer at once instead of waiting out the call timeout, and the tickets
/// held for them must go back on sale, even when the log the failure is written to throws too.
/// </summary>
public sealed class CommitCycleFaultTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_cycle_that_throws_before_writing_refuses_its_sales_and_releases_their_tickets(bool logThrows)
    {
        var signer = new TicketCodeSigner(Convert.FromBase64String(TestStorage.SigningKey));
        var log = new ThrowingShardLog();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton(signer);
            if (logThrows) silo.Services.AddSingleton<ILoggerProvider>(log);
        }, output: output);
        await cluster.CreateEventAsync("faulty", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = cluster.Shard("faulty", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("faulty", "ga", 1))).Status);

        signer.Dispose();
        var keyless = shard.Purchase(TicketingCluster.KeylessPurchase("faulty", "ga", 2));
        var keyed = cluster.BuyAsync("faulty", "ga", 3, key: "faulty-key");

        // Inside Orleans' 30 s call timeout, which is what a stranded batch's buyers waited for (the keyed one asks
        // again for the dispatcher's 5 s patience first).
        var answers = await Task.WhenAll(keyless, keyed).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(answers, answer => Assert.Equal(PurchaseStatus.Unavailable, answer.Status));
        var sales = await shard.GetSales();
        Assert.Equal(1L, sales.Sold);
        Assert.Equal(0L, sales.Reserved);
        Assert.Equal(9L, sales.Remaining);
        Assert.Equal(logThrows, log.Calls > 0);
    }

    [Fact]
    public async Task A_fenced_shard_whose_log_throws_still_refuses_its_buyer_at_once()
    {
        // The fence is logged on the way to the answer: thrown from there, the buyer waited for the call timeout and the
        // activation, never marked fenced, went on as if its commit's outcome were unknown.
        var log = new ThrowingShardLog();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<ILoggerProvider>(log), output: output);
        await cluster.CreateEventAsync("fenced", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = cluster.Shard("fenced", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("fenced", "ga", 1))).Status);
        var (placement, intruder) = await cluster.LedgerAsync("fenced", "ga", 0);
        await intruder.ClaimAsync(placement.Block);

        var loser = await shard.Purchase(TicketingCluster.KeylessPurchase("fenced", "ga", 2)).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(PurchaseStatus.Unavailable, loser.Status);
        Assert.Equal(1L, await intruder.CountTicketRowsAsync());
        Assert.True(log.Calls > 0, "The fence was never logged.");
    }

    /// <summary>A logging provider that throws at every message of the shard grain, as a sink whose pipe closed does.</summary>
    private sealed class ThrowingShardLog : ILoggerProvider, ILogger
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ILogger CreateLogger(string categoryName) =>
            categoryName == typeof(InventoryShardGrain).FullName ? this : NullLogger.Instance;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Interlocked.Increment(ref _calls);
            throw new IOException("The log's pipe is closed (played by a test).");
        }

        public void Dispose()
        {
        }
    }
}
