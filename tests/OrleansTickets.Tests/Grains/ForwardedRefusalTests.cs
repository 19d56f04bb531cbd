using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A replay of a forwarded order id that arrives while the first forward of that id is still running, and joins it.
/// </summary>
public sealed class ForwardedRefusalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_replay_that_joins_a_refused_forward_answers_only_once_the_refusal_is_durable()
    {
        // The first forward of an id is refused in memory only: the home moves on after that answer and sends no
        // other message for the id. A replay's answer lets the home move on too, while an older message for the id
        // may still be on its way, possibly to a later activation; so a replay is answered "sold out" only once the
        // refusal is in the database. Here the replay joins the first forward while it waits on a pull, which the
        // donor (shard 1) never answers.
        var pulling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("join", "ga", 1), nameof(IInventoryShardGrain.GiveTickets), async _ =>
            {
                pulling.TrySetResult();
                await release.Task;
                throw new TimeoutException("The donor did not answer.");
            }), output: output);
        await cluster.CreateEventAsync("join", TicketingCluster.Type("ga", capacity: 4, shards: 2, maxPerOrder: 4));
        var receiver = cluster.Shard("join", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await receiver.Purchase(TicketingCluster.KeylessPurchase("join", "ga", 2))).Status);

        var orderId = OrderId.New(new ShardAddress("join", "ga", 0), DateTimeOffset.UtcNow);
        try
        {
            var request = new PurchaseRequest("join", "ga", 2, new Buyer("Ada", "ada@example.com"), "join-key");
            var first = receiver.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: true, Donors: [1]));
            await pulling.Task.WaitAsync(TimeSpan.FromSeconds(20));
            var replay = receiver.Purchase(new ShardPurchase(request, "FP", [], orderId, FreshOrderId: false));
            // The replay is in the shard, waiting on the first forward, before the pull fails.
            await Task.Delay(200);
            Assert.False(replay.IsCompleted);
            release.TrySetResult();

            Assert.Equal(PurchaseStatus.SoldOut, (await first).Status);
            Assert.Equal(PurchaseStatus.SoldOut, (await replay).Status);
        }
        finally
        {
            release.TrySetResult();
        }

        // What a later activation of the shard would find: the refusal, in the database.
        var (placement, ledger) = await cluster.LedgerAsync("join", "ga", 0);
        Assert.Contains(orderId, (await ledger.ClaimAsync(placement.Block)).Refused);
    }
}
