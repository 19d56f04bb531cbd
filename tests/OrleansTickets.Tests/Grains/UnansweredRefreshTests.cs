using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A dispatcher's refresh that a shard does not answer: the shard may hold tickets, so no buyer is told "sold out"
/// on the strength of it; buyers get a retryable answer until the shard answers again.
/// </summary>
public sealed class UnansweredRefreshTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_shard_that_does_not_answer_a_refresh_keeps_the_type_from_being_called_sold_out()
    {
        // Holds the sales report of shard 1 (and only that call) until the gate opens, as a silo that stopped
        // answering would.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("quiet", "ga", 1), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                await gate.Task;
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("quiet", TicketingCluster.Type("ga", capacity: 2, shards: 2));
        try
        {
            // Both tickets sold, each at its own shard, behind the dispatcher's back: its view still has one on each.
            foreach (var index in new[] { 0, 1 })
            {
                var sold = await cluster.Shard("quiet", "ga", index).Purchase(TicketingCluster.KeylessPurchase("quiet", "ga", 1));
                Assert.Equal(PurchaseStatus.Created, sold.Status);
            }

            // Both shards refuse; the refresh that follows hears from shard 0 only. Shard 1 may hold tickets for all
            // the dispatcher knows, so after its patience the buyer is told to come back (the API's 503), not "sold out".
            var unanswered = await cluster.BuyAsync("quiet", "ga", 1);
            Assert.Equal(PurchaseStatus.Unavailable, unanswered.Status);

            gate.TrySetResult();
            var answered = await cluster.BuyAsync("quiet", "ga", 1);
            Assert.Equal((PurchaseStatus.SoldOut, 0L), (answered.Status, answered.Remaining));
        }
        finally
        {
            // A failed assertion must not leave the held calls to time out while the cluster stops.
            gate.TrySetResult();
        }
    }
}
