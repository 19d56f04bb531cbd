using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Ids anyone can send (an order id of a shard that does not exist, a purchase for an event that does not) cost an
/// activation only while they are asked about: otherwise each made-up id would hold one for Orleans' 15 idle minutes.
/// </summary>
public sealed class UnknownIdTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_shard_or_dispatcher_for_no_event_goes_away_once_it_has_answered()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("real", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var made = new ShardAddress("made-up", "ga", 7);

        Assert.Null(await cluster.Client.GetGrain<IInventoryShardGrain>(made.Key).GetOrder(OrderId.New(made, DateTimeOffset.UtcNow)));
        Assert.Equal(PurchaseStatus.NotFound, (await cluster.BuyAsync("made-up", "ga", 1)).Status);
        Assert.Equal(PurchaseStatus.NotFound, (await cluster.BuyAsync("real", "no-such-type", 1)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("real", "ga", 1)).Status);

        await Poll.UntilAsync(async () => !(await MadeUpActivationsAsync(cluster)).Any(), attempts: 100,
            failure: "Activations for made-up ids stayed after answering.");
        // The real event's shard and dispatcher stay: they hold what they have read.
        var kept = await ActivationsAsync(cluster, "real/");
        Assert.Contains(kept, id => id.Contains(nameof(InventoryShardGrain), StringComparison.Ordinal));
    }

    private static async Task<IEnumerable<string>> MadeUpActivationsAsync(TicketingCluster cluster) =>
        (await ActivationsAsync(cluster, "made-up/")).Concat(await ActivationsAsync(cluster, "real/no-such-type"));

    private static async Task<List<string>> ActivationsAsync(TicketingCluster cluster, string keyPrefix)
    {
        var statistics = await cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return statistics
            .Where(s => s.GrainType.Contains(nameof(InventoryShardGrain), StringComparison.Ordinal)
                || s.GrainType.Contains(nameof(PurchaseDispatcherGrain), StringComparison.Ordinal))
            .Where(s => s.GrainId.Key.ToString()!.StartsWith(keyPrefix, StringComparison.Ordinal))
            .Select(s => s.GrainType + " " + s.GrainId.Key)
            .ToList();
    }
}
