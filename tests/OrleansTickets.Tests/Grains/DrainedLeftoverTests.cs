using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>Tickets that become free on a drained shard after its drain walked past them go on by themselves.</summary>
public sealed class DrainedLeftoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Tickets_a_refused_pull_frees_on_a_drained_shard_go_on_to_another_shard()
    {
        // Shard 1 holds 3 tickets and pulls a 4th from shard 0, which answers only once shard 1 is drained, and then
        // gives nothing. The drain finds the 3 held by the pull and reports them left; when the pull is refused they
        // are free again, on a shard that takes nothing in and that no drain walks any more.
        var pulling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var donorWaits = TicketingCluster.Intercepting(new ShardAddress("leftover", "ga", 0), nameof(IInventoryShardGrain.GiveTickets), async call =>
        {
            pulling.TrySetResult();
            await drained.Task;
            call.Result = 0L;
        });
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: donorWaits, output: output);
        await cluster.CreateEventAsync("leftover", TicketingCluster.Type("ga", capacity: 9, shards: 3, maxPerOrder: 4));
        var drainedShard = cluster.Shard("leftover", "ga", 1);
        Assert.Equal(3L, await drainedShard.GetSellable());

        Task<PurchaseResult> pull;
        DrainResult drain;
        try
        {
            pull = drainedShard.Purchase(TicketingCluster.KeylessPurchase("leftover", "ga", 4) with { Donors = [0] });
            await pulling.Task.WaitAsync(TimeSpan.FromSeconds(20));
            drain = await drainedShard.Drain();
        }
        finally
        {
            drained.TrySetResult();
        }
        Assert.Equal((0L, 3L), (drain.Moved, drain.Left));
        Assert.Equal(PurchaseStatus.SoldOut, (await pull).Status);

        // Nothing was sold: the 3 tickets end up on shard 2 (the next one that takes gifts in), none left on shard 1. A
        // gift leaves its donor before its receiver takes it in, so the two are waited for together: asserted right
        // after the donor showed 0, the receiver could still show 3 (a CI run saw it).
        var receiver = cluster.Shard("leftover", "ga", 2);
        await Poll.UntilAsync(async () => await drainedShard.GetSellable() == 0 && await receiver.GetSellable() == 6,
            failure: "the tickets freed on the drained shard were never handed on to shard 2");
        Assert.Equal(3L, await cluster.Shard("leftover", "ga", 0).GetSellable());
    }

    [Fact]
    public async Task A_drain_whose_catalog_does_not_know_the_event_fails_instead_of_reporting_nothing_moved()
    {
        // A catalog twin that read its storage before the event was stored answers "no such event" for a moment. The
        // shard's walk then had no shard to offer its tickets to, and the operator was told "moved 0, left 3" with 200.
        var forgetting = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
            silo.AddIncomingGrainCallFilter(call =>
            {
                if (call.InterfaceMethod.DeclaringType == typeof(ITicketEventGrain)
                    && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetDefinition)
                    && Interlocked.Exchange(ref forgetting, 0) == 1)
                {
                    call.Result = null;
                    return Task.CompletedTask;
                }
                return call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("forgotten", TicketingCluster.Type("ga", capacity: 9, shards: 3, maxPerOrder: 4));
        var shard = cluster.Shard("forgotten", "ga", 1);
        Assert.Equal(3L, await shard.GetSellable());

        Volatile.Write(ref forgetting, 1);
        await Assert.ThrowsAsync<CatalogUnavailableException>(() => shard.Drain());

        // Asked again, with the catalog knowing the event: everything moves.
        var again = await shard.Drain();
        Assert.Equal((3L, 0L), (again.Moved, again.Left));
    }
    [Fact]
    public async Task A_drain_whose_shard_a_newer_activation_claims_during_the_walk_reports_no_counts_and_its_tickets_go_on()
    {
        // The drain retires shard 1, then asks shard 2 whether it can take tickets in; meanwhile another activation of
        // shard 1 claims its row (membership changing), so the gift's commit is fenced. The stale activation's counts
        // were then reported as the drain's outcome ("available, 3 left") though they no longer say anything.
        var armed = 0;
        var asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var claimed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("reclaimed", "ga", 2), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                if (Interlocked.Exchange(ref armed, 0) == 1)
                {
                    asked.TrySetResult();
                    await claimed.Task;
                }
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("reclaimed", TicketingCluster.Type("ga", capacity: 9, shards: 3, maxPerOrder: 4));
        var shard = cluster.Shard("reclaimed", "ga", 1);
        Assert.Equal(3L, await shard.GetSellable());

        Volatile.Write(ref armed, 1);
        var drain = shard.Drain();
        try
        {
            await asked.Task.WaitAsync(TimeSpan.FromSeconds(20));
            var (placement, newer) = await cluster.LedgerAsync("reclaimed", "ga", 1);
            await newer.ClaimAsync(placement.Block);
        }
        finally
        {
            claimed.TrySetResult();
        }

        var answer = await drain;
        Assert.False(answer.Available, $"The fenced drain answered {answer}.");
        Assert.Equal(0L, answer.Moved);
        // The retire was durable before the claim: the next activation finds the shard drained and hands its tickets on.
        await Poll.UntilAsync(async () => await shard.GetSellable() == 0
                && await cluster.Shard("reclaimed", "ga", 0).GetSellable() + await cluster.Shard("reclaimed", "ga", 2).GetSellable() == 9,
            failure: "the drained shard's tickets never went on to the other shards");
    }
}
