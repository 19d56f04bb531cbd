using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A second activation of a shard (what Orleans may briefly run while membership changes) is simulated by claiming
/// the shard's ledger from outside, exactly as a new activation does. The running activation must lose.
/// </summary>
public sealed class FencingTests : IAsyncLifetime
{
    private TicketingCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite());

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task A_shard_whose_epoch_was_taken_writes_nothing_and_a_fresh_activation_continues()
    {
        await _cluster.CreateEventAsync("fenced", TicketingCluster.Type("ga", capacity: 50, shards: 1));
        var before = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => _cluster.BuyAsync("fenced", "ga", 2)));
        Assert.All(before, r => Assert.Equal(PurchaseStatus.Created, r.Status));

        // The "other activation" claims the shard: the running one now holds a stale epoch.
        var (placement, intruder) = await _cluster.LedgerAsync("fenced", "ga", 0);
        var claim = await intruder.ClaimAsync(placement.Block);
        Assert.Equal(10L, claim.Sold);

        // Asked directly (the dispatcher would route around it), the fenced activation refuses and writes nothing.
        var request = new PurchaseRequest("fenced", "ga", 2, new Buyer("Ada", "ada@example.com"), null);
        var loser = await _cluster.Shard("fenced", "ga", 0).Purchase(new Inventory.ShardPurchase(request, string.Empty, []));
        Assert.Equal(PurchaseStatus.Unavailable, loser.Status);
        Assert.Equal(10L, await intruder.CountTicketRowsAsync());

        // The fenced activation deactivates itself; the next one claims a newer epoch and carries on after serial 10.
        var after = await RetryUntilCreatedAsync(() => _cluster.BuyAsync("fenced", "ga", 2));
        Assert.Equal([11L, 12L], after.Order!.Tickets.Select(t => t.Serial));
        OrderAssertions.AllSerialsAndCodesUnique(before.Select(r => r.Order!).Append(after.Order!));
        Assert.Equal(12L, await intruder.CountTicketRowsAsync());
    }

    private static async Task<PurchaseResult> RetryUntilCreatedAsync(Func<Task<PurchaseResult>> buy)
    {
        PurchaseResult? created = null;
        await Poll.UntilAsync(async () =>
        {
            var result = await buy();
            if (result.Status == PurchaseStatus.Created) created = result;
            else Assert.Equal(PurchaseStatus.Unavailable, result.Status);
            return created is not null;
        }, attempts: 50, failure: "The shard never recovered from being fenced.");
        return created!;
    }
}
