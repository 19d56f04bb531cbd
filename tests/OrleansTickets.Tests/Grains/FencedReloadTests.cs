using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A stale activation of a shard whose reload was already waiting on its last commit when that commit came back
/// fenced: it must stay fenced, not claim the shard back from the newer activation, nor report counts a verdict could rest on.
/// </summary>
public sealed class FencedReloadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_reload_waiting_on_a_commit_that_comes_back_fenced_does_not_claim_the_shard_again()
    {
        var holderFails = new TaskCompletionSource();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("refence", "ga", 1), nameof(IInventoryShardGrain.Purchase), call => holderFails.Task.IsCompleted
                ? throw new TimeoutException("The holder did not answer in time (played by a test).")
                : call.Invoke()), output: output);
        await cluster.CreateEventAsync("refence", TicketingCluster.Type("ga", capacity: 6, shards: 2));
        var home = cluster.Shard("refence", "ga", 0);

        // The home keeps one ticket, so a keyed order of two goes to shard 1 and the home remembers the key's order there.
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(TicketingCluster.KeylessPurchase("refence", "ga", 2))).Status);
        var keyed = new PurchaseRequest("refence", "ga", 2, new Buyer("Ada", "ada@example.com"), "moved-on");
        var forwarded = await home.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]));
        Assert.Equal(PurchaseStatus.Created, forwarded.Status);

        // A newer activation claims the shard (played from outside, as FencingTests does).
        var (placement, newer) = await cluster.LedgerAsync("refence", "ga", 0);
        var claim = await newer.ClaimAsync(placement.Block);

        // A sale whose commit is in flight, held at the database, and bound to be fenced.
        var held = await cluster.HoldWritesAsync("refence", "ga", 0);
        Task<PurchaseResult> inFlight;
        Task<long> asking;
        Task<ShardSales> reporting;
        try
        {
            inFlight = home.Purchase(TicketingCluster.KeylessPurchase("refence", "ga", 1));
            // Its ticket is reserved once the sale is queued for the held commit.
            await Poll.UntilAsync(async () => (await home.GetSales()).Reserved == 1, attempts: 100,
                failure: "The sale never reached its held commit.");
            // The key's retry cannot reach its order's holder: outcome unknown, so the home marks itself for a reload.
            holderFails.TrySetResult();
            Assert.Equal(PurchaseStatus.Failed, (await home.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]))).Status);
            // The next call starts that reload, which waits for the commit in flight.
            asking = home.GetSellable();
            reporting = home.GetSales();
            await Task.Delay(300);
            Assert.False(asking.IsCompleted);
        }
        finally
        {
            await held.DisposeAsync();
        }
        var fencedSale = await inFlight;
        var sellable = await asking;
        var report = await reporting;

        // The held writes are released by now; the fenced activation refused its sale and sells nothing more.
        Assert.Equal(PurchaseStatus.Unavailable, fencedSale.Status);
        Assert.Equal(0L, sellable);
        // Its counts may leave out what the newer activation sold or took in since, so no "sold out" may rest on them.
        Assert.Equal((ShardStatus.Unavailable, false), (report.Status, report.Known));
        // And the newer activation's epoch still holds: its commit is not fenced by a claim the stale one made.
        Assert.Equal(CommitOutcome.Committed,
            await newer.CommitAsync(new LedgerBatch(placement.Address, newer.Epoch, claim.Sold, claim.Sold, [], [], null)));
    }
}
