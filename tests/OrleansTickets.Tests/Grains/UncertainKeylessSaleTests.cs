using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A purchase without an idempotency key whose shard may have sold it: the dispatcher must not try another shard,
/// since nothing could tell the second order from the first.
/// </summary>
public sealed class UncertainKeylessSaleTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_keyless_purchase_whose_shard_silo_was_declared_dead_after_it_ran_is_not_sold_again()
    {
        var lostAnswer = new LostPurchaseAnswer();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton<IIncomingGrainCallFilter>(lostAnswer), output: output);
        await cluster.CreateEventAsync("uncertain", TicketingCluster.Type("ga", capacity: 10, shards: 2));

        var result = await cluster.BuyAsync("uncertain", "ga", 2);

        Assert.True(lostAnswer.Lost);
        Assert.Equal(PurchaseStatus.Failed, result.Status);
        // One order of 2 exists (the one whose answer was lost), not a second one on the other shard.
        Assert.Equal(2L, (await cluster.SalesAsync("uncertain")).TicketTypes[0].Sold);
    }
}
