using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>A cold dispatcher reached by many buyers at once asks the catalog for its type once, not once per buyer.</summary>
public sealed class DefinitionLoadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Buyers_arriving_together_at_a_cold_dispatcher_share_one_load_of_the_definition()
    {
        // The catalog takes a moment to answer, as it does when the doors open and every type's dispatchers wake at once:
        // every buyer below arrives while the first load is still waiting.
        var shardMaps = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
            silo.AddIncomingGrainCallFilter(async call =>
            {
                if (call.InterfaceMethod.DeclaringType == typeof(ITicketEventGrain))
                {
                    if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetShardDatabases)) Interlocked.Increment(ref shardMaps);
                    if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetDefinition)) await Task.Delay(300);
                }
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("doors", TicketingCluster.Type("ga", capacity: 100, shards: 4));
        Volatile.Write(ref shardMaps, 0);

        // More buyers than a stateless worker can have activations on this machine, or sharing could not be told apart.
        var buyers = Math.Max(32, 4 * Environment.ProcessorCount);
        var results = await Task.WhenAll(Enumerable.Range(0, buyers).Select(i => cluster.BuyAsync("doors", "ga", 1, key: $"doors-{i}")));

        Assert.All(results, result => Assert.Equal(PurchaseStatus.Created, result.Status));
        // One load per dispatcher activation: a stateless worker has at most one per core on the silo. Before, each buyer
        // that found the type unknown loaded it again: 32 shard maps.
        var loads = Volatile.Read(ref shardMaps);
        Assert.True(loads <= Environment.ProcessorCount, $"{loads} loads of the shard map for {buyers} buyers");
    }
}
