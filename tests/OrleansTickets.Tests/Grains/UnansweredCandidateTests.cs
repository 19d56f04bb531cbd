using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A home asks each candidate whether it has room before reserving a key for it; a candidate whose answer fails
/// (its silo timed out) is passed over like a dry one, not taken for one with room.
/// </summary>
public sealed class UnansweredCandidateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_home_passes_over_a_candidate_whose_room_question_fails_and_sells_on_the_next()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("unanswered", "ga", 1), nameof(IInventoryShardGrain.HoldForForward),
            _ => throw new TimeoutException("The candidate's silo did not answer in time (played by a test).")), output: output);
        await cluster.CreateEventAsync("unanswered", TicketingCluster.Type("ga", capacity: 6, shards: 3));
        var home = cluster.Shard("unanswered", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await home.Purchase(TicketingCluster.KeylessPurchase("unanswered", "ga", 2))).Status);

        // Candidate 1 could sell (only its answer about room is lost); taking the failure for room would reserve the
        // key for it without knowing, which is what asking first is there to avoid.
        var request = new PurchaseRequest("unanswered", "ga", 1, new Buyer("Ada", "ada@example.com"), "unanswered-key");
        var result = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1, 2]));

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var holder));
        Assert.Equal(new ShardAddress("unanswered", "ga", 2), holder);
    }
}
