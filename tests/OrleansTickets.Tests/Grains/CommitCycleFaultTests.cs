using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A shard's own code failing inside a group commit, before anything is written: a disposed signer stands in for any
/// such fault. Its buyers must get a definite answer at once instead of waiting out the call timeout, and the tickets
/// held for them must go back on sale.
/// </summary>
public sealed class CommitCycleFaultTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_cycle_that_throws_before_writing_refuses_its_sales_and_releases_their_tickets()
    {
        var signer = new TicketCodeSigner(Convert.FromBase64String(TestStorage.SigningKey));
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.Services.AddSingleton(signer), output: output);
        await cluster.CreateEventAsync("faulty", TicketingCluster.Type("ga", capacity: 10, shards: 1));
        var shard = cluster.Shard("faulty", "ga", 0);
        Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("faulty", "ga", 1))).Status);

        signer.Dispose();
        var keyless = shard.Purchase(TicketingCluster.KeylessPurchase("faulty", "ga", 2));
        var keyed = cluster.BuyAsync("faulty", "ga", 3, key: "faulty-key");

        // Inside Orleans' 30 s call timeout, which is what a stranded batch's buyers waited for (the keyed one asks
        // again for the dispatcher's 5 s patience first).
        var answers = await Task.WhenAll(keyless, keyed).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(answers, answer => Assert.Equal(PurchaseStatus.Unavailable, answer.Status));
        var sales = await shard.GetSales();
        Assert.Equal(1L, sales.Sold);
        Assert.Equal(0L, sales.Reserved);
        Assert.Equal(9L, sales.Remaining);
    }
}
