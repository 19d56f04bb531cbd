using OrleansTickets.Events;
using OrleansTickets.Sales;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The totals each shard reports beside its counts (tickets taken in from shards, gifts settled), which let a
/// dispatcher count a type exactly from reports taken at different moments, and the tickets taken in from operators'
/// grants, which tell a report from before a take-in: kept in memory as transfers land, and read back from the
/// database by the next activation.
/// </summary>
[Collection(PostgresSalesCollection.Name)]
public sealed class TransferTotalsTests(PostgresFixture postgres, ITestOutputHelper output) : EngineClusterTests(postgres, output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Shards_report_what_they_took_in_and_settled_and_find_it_again_after_reactivating(string engine)
    {
        await StartAsync(engine);
        await Cluster.CreateEventAsync("totals", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        // Tickets the operators add are not a gift between shards: not in those totals, but in a total of their own.
        await Cluster.Client.GetEventGrain("totals").AddCapacity("ga", 5, shardIndex: 0, idempotencyKey: null);
        await Poll.UntilAsync(async () => (await Cluster.Shard("totals", "ga", 0).GetSales()).Capacity == 15);

        // Shard 1's drain gives its 10 to shard 0; shard 0's gift of 4 back to the drained shard is refused and taken back.
        Assert.Equal(10L, (await Cluster.Shard("totals", "ga", 1).Drain()).Moved);
        Assert.Equal(0L, await Cluster.Shard("totals", "ga", 0).GiveTickets("refused-gift", new ShardAddress("totals", "ga", 1).Key, 4));

        var expected = ((Capacity: 25L, InTransit: 0L, TakenIn: 14L, Settled: 4L, GrantedIn: 5L), (Capacity: 0L, InTransit: 0L, TakenIn: 0L, Settled: 10L, GrantedIn: 0L));
        Assert.Equal(expected, await TotalsAsync());
        var type = (await Cluster.SalesAsync("totals")).TicketTypes[0];
        Assert.Equal(25L, ShardCounts.Unsold(type.Shards));
        // A current activation counts every grant the catalog saw it take in, and stays. Told of more (as a database
        // restored from an older backup would leave it), it stays too: the database holds its own epoch, not a newer
        // activation's, and stopping would only make the next activation claim the shard again, as far behind.
        var (_, ledger) = await Cluster.LedgerAsync("totals", "ga", 0);
        var epoch = await ledger.ReadEpochAsync();
        Assert.False(await Cluster.Shard("totals", "ga", 0).StepDownIfBehind(5));
        Assert.False(await Cluster.Shard("totals", "ga", 0).StepDownIfBehind(6));
        Assert.Equal(expected, await TotalsAsync());
        Assert.Equal(epoch, await ledger.ReadEpochAsync());

        for (var i = 0; i < 2; i++) await Cluster.Cluster.DeactivateAsync(Cluster.Shard("totals", "ga", i));
        Assert.Equal(expected, await TotalsAsync());
    }

    private async Task<((long, long, long, long, long), (long, long, long, long, long))> TotalsAsync()
    {
        var first = await Cluster.Shard("totals", "ga", 0).GetSales();
        var second = await Cluster.Shard("totals", "ga", 1).GetSales();
        return ((first.Capacity, first.InTransit, first.TakenIn, first.Settled, first.GrantedIn),
            (second.Capacity, second.InTransit, second.TakenIn, second.Settled, second.GrantedIn));
    }
}
