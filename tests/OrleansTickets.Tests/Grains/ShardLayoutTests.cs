using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A new event's shards hold their type's tickets shared evenly between databases, not shards: keys, and so orders, come
/// to each database evenly. SQLite only: the layout is the catalog's, whatever the engine.
/// </summary>
public sealed class ShardLayoutTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Each_database_holds_an_even_share_of_a_type_whose_shards_do_not_divide_by_the_databases()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        // 6 shards on the 4 test databases: two databases hold two of them, two hold one. One ticket an order, so no shard
        // is ever left with fewer than an order takes and gives them to a collector.
        await cluster.CreateEventAsync("layout", TicketingCluster.Type("ga", capacity: 60, shards: 6, maxPerOrder: 1));
        var databases = await cluster.Client.GetEventGrain("layout").GetShardDatabases();
        var shards = (await cluster.SalesAsync("layout")).TicketTypes[0].Shards;

        var byDatabase = shards.GroupBy(shard => databases[shard.Index]).ToDictionary(group => group.Key, group => group.Sum(shard => shard.Capacity));
        Assert.Equal(4, byDatabase.Count);
        Assert.All(byDatabase.Values, capacity => Assert.Equal(15L, capacity));
        Assert.Contains(shards, shard => shard.Capacity == 15);
        Assert.Contains(shards, shard => shard.Capacity is 7 or 8);

        // The blocks the shards claimed are the type's serials once each: selling out gives every serial from 1 to 60.
        var serials = new List<long>();
        foreach (var shard in shards)
        {
            for (var sold = 0L; sold < shard.Capacity; sold++)
            {
                var result = await cluster.Shard("layout", "ga", shard.Index).Purchase(TicketingCluster.KeylessPurchase("layout", "ga", 1));
                Assert.Equal(PurchaseStatus.Created, result.Status);
                serials.AddRange(result.Order!.Tickets.Select(ticket => ticket.Serial));
            }
        }
        Assert.Equal(Enumerable.Range(1, 60).Select(serial => (long)serial), serials.Order());
    }
}
