using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Sales;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A shard claims a new epoch only when its own state may be stale (a new activation, a write of its own with an
/// unknown outcome). A keyed retry that failed elsewhere is not such a case, and a stale activation must not claim the
/// shard back from the newer one, nor report counts a verdict could rest on.
/// </summary>
public sealed class FencedReloadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_holder_that_does_not_answer_does_not_make_the_home_claim_its_shard_again()
    {
        var holderFails = new TaskCompletionSource();
        var holdReport = false;
        var reportHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseReport = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            TicketingCluster.Intercepting(new ShardAddress("refence", "ga", 1), nameof(IInventoryShardGrain.Purchase), call => holderFails.Task.IsCompleted
                ? throw new TimeoutException("The holder did not answer in time (played by a test).")
                : call.Invoke())(silo);
            // A sales report that reached the home before its fence, and is answered after it.
            TicketingCluster.Intercepting(new ShardAddress("refence", "ga", 0), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                if (Volatile.Read(ref holdReport) && reportHeld.TrySetResult()) await releaseReport.Task;
                await call.Invoke();
            })(silo);
        }, output: output);
        await cluster.CreateEventAsync("refence", TicketingCluster.Type("ga", capacity: 6, shards: 2));
        var home = cluster.Shard("refence", "ga", 0);

        // The home keeps one ticket, so a keyed order of two goes to shard 1, and the home reserves the key for it there.
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(TicketingCluster.KeylessPurchase("refence", "ga", 2))).Status);
        await cluster.ActivateShardsAsync("refence", "ga", 1);
        var keyed = new PurchaseRequest("refence", "ga", 2, new Buyer("Ada", "ada@example.com"), "moved-on");
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]))).Status);

        // The key's retry cannot reach its order's holder: outcome unknown, but nothing of the home's is uncertain.
        holderFails.TrySetResult();
        Assert.Equal(PurchaseStatus.Failed, (await home.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [1]))).Status);
        Assert.Equal(1L, await home.GetSellable());

        // The home claimed the shard once, when it activated: a newer claim is the second. A home that reloaded after
        // the failure (each holder timeout, all through a membership change) claimed again.
        var (placement, newer) = await cluster.LedgerAsync("refence", "ga", 0);
        var claim = await newer.ClaimAsync(placement.Block);
        Assert.Equal(2L, claim.Epoch);

        // Now the home is the stale activation: its sale is fenced and it does not claim the shard back, and counts
        // it reports from now on (which may leave out what the newer activation sold or took in) support no verdict.
        Volatile.Write(ref holdReport, true);
        var reporting = home.GetSales();
        await reportHeld.Task.WaitAsync(TimeSpan.FromSeconds(20));
        try
        {
            Assert.Equal(PurchaseStatus.Unavailable, (await home.Purchase(TicketingCluster.KeylessPurchase("refence", "ga", 1))).Status);
        }
        finally
        {
            releaseReport.TrySetResult();
        }
        var report = await reporting;
        Assert.Equal((ShardStatus.Unavailable, false), (report.Status, report.Known));
        Assert.Equal(CommitOutcome.Committed,
            await newer.CommitAsync(new LedgerBatch(placement.Address, newer.Epoch, claim.Sold, claim.Sold, [], [], null)));
    }
}
