using Microsoft.Extensions.DependencyInjection;
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
        await cluster.ActivateShardsAsync("unanswered", "ga", 2);

        // Candidate 1 could sell (only its answer about room is lost); taking the failure for room would reserve the
        // key for it without knowing, which is what asking first is there to avoid.
        var request = new PurchaseRequest("unanswered", "ga", 1, new Buyer("Ada", "ada@example.com"), "unanswered-key");
        var result = await home.Purchase(new ShardPurchase(request, request.Fingerprint(), [1, 2]));

        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(OrderId.TryGetShard(result.Order!.OrderId, out var holder));
        Assert.Equal(new ShardAddress("unanswered", "ga", 2), holder);
    }

    [Fact]
    public async Task A_candidate_whose_question_the_forward_s_budget_cut_short_is_not_marked_silent_and_one_given_time_is()
    {
        // Candidate 1 (sold out) answers its question after 1.2 s of the forward's 2 (0.8 s to spare for a busy machine);
        // candidate 2, slow but there, would answer after 1.8 s, and is left with at most 0.8 s of the budget.
        var (slowDry, slow) = (new ShardAddress("cut-short", "ga", 1), new ShardAddress("cut-short", "ga", 2));
        var delays = new Dictionary<ShardAddress, TimeSpan> { [slowDry] = TimeSpan.FromSeconds(1.2), [slow] = TimeSpan.FromSeconds(1.8) };
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            foreach (var shard in delays.Keys)
            {
                TicketingCluster.Intercepting(shard, nameof(IInventoryShardGrain.HoldForForward), async call =>
                {
                    await Task.Delay(delays[shard]);
                    await call.Invoke();
                })(silo);
            }
        }, output: output);
        await cluster.CreateEventAsync("cut-short", TicketingCluster.Type("ga", capacity: 6, shards: 3));
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("cut-short", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("cut-short", "ga", 2))).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("cut-short", "ga", 1).Purchase(TicketingCluster.KeylessPurchase("cut-short", "ga", 2))).Status);
        var silent = cluster.Cluster.GetSiloServiceProvider().GetRequiredService<SilentCandidates>();

        var request = new PurchaseRequest("cut-short", "ga", 1, new Buyer("Ada", "ada@example.com"), "cut-short-key");
        var result = await cluster.Shard("cut-short", "ga", 0).Purchase(new ShardPurchase(request, request.Fingerprint(), [1, 2]));

        // Passed over, like a candidate with no room (nothing was sold for the key), but not taken for a silent one.
        Assert.NotEqual(PurchaseStatus.Created, result.Status);
        Assert.False(silent.WasSilentLately(slow));
        Assert.False(silent.WasSilentLately(slowDry));

        // Asked first, with the whole budget, and still too slow for it: that one is silent.
        delays[slow] = TimeSpan.FromSeconds(3);
        var again = new PurchaseRequest("cut-short", "ga", 1, new Buyer("Ada", "ada@example.com"), "cut-short-key-2");
        await cluster.Shard("cut-short", "ga", 0).Purchase(new ShardPurchase(again, again.Fingerprint(), [2]));
        Assert.True(silent.WasSilentLately(slow));
    }
}
