using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A drain's gift whose commit landed but whose answer was lost: the drain answers from what the database holds (the
/// gift in transit), not from the memory the lost answer left unsure, and the gift is delivered afterwards.
/// </summary>
public sealed class LostGiftAnswerTests(ITestOutputHelper output)
{
    [PostgresFact]
    public async Task A_drain_whose_gift_landed_without_its_answer_reports_the_gift_in_transit_and_delivers_it()
    {
        await using var server = new PostgresServer();
        await server.StartAsync();
        var commits = new UnreplicatedCommits(server);
        var receiver = new ShardAddress("lost-gift", "ga", 1);
        var armed = 0;
        // The drain asks the receiver whether it can take tickets in after its retire committed and before its gift's
        // commit: from then on commits land and wait.
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Postgres(server), configureSilo: TicketingCluster.Intercepting(
            receiver, nameof(IInventoryShardGrain.GetSales), async call =>
            {
                if (Interlocked.Exchange(ref armed, 0) == 1) await commits.StallAsync();
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("lost-gift", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        // Both shards loaded first, so that the drain's time goes to the drain.
        await cluster.Shard("lost-gift", "ga", 0).GetSales();
        await cluster.Shard("lost-gift", "ga", 1).GetSales();

        Volatile.Write(ref armed, 1);
        var drain = cluster.Shard("lost-gift", "ga", 0).Drain();
        try
        {
            // The gift's commit waits for the standby: its session ends, as a broken network would end it.
            await commits.CutNextAsync(ShardDatabases.WriterApplicationSuffix);
        }
        finally
        {
            await commits.ResumeAsync();
        }
        var drained = await drain;

        // Before, the answer came from memory, where the gift had been refused with its commit: 10 left, none in transit.
        Assert.Equal((true, 0L, 10L, 0L), (drained.Available, drained.Moved, drained.InTransit, drained.Left));
        // Delivered, then marked delivered by the donor in a commit of its own.
        await Poll.UntilAsync(async () => (await cluster.SalesAsync("lost-gift")).TicketTypes[0].Shards is var s && s[1].Remaining == 20 && s[0].InTransit == 0,
            attempts: 200, failure: "The gift that landed was never delivered and settled.");
        var shards = (await cluster.SalesAsync("lost-gift")).TicketTypes[0].Shards;
        Assert.Equal([0L, 20L], shards.Select(s => s.Remaining));
        Assert.All(shards, s => Assert.Equal(0L, s.InTransit));
    }
}
