using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>A purchase whose outcome cannot be known is a 503 that says so, and tells a buyer without a key why a key matters.</summary>
public sealed class OutcomeUnknownTests
{
    [Theory]
    [InlineData("shard", "silo-unavailable")]
    [InlineData("shard", "timeout")]
    [InlineData("dispatcher", "timeout")]
    [InlineData("dispatcher", "silo-unavailable")]
    public async Task A_keyless_purchase_with_a_lost_answer_is_503_outcome_unknown_and_sells_once(string lostBy, string loss)
    {
        using var storage = TestStorage.Sqlite();
        Func<Exception> exception = loss == "timeout"
            ? () => new TimeoutException("Response did not arrive on time (played by a test).")
            : () => new SiloUnavailableException("The target silo became unavailable (played by a test).");
        var lostAnswer = new LostPurchaseAnswer(exception, lostBy == "shard" ? typeof(IInventoryShardGrain) : typeof(IPurchaseDispatcherGrain));
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(lostAnswer));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unknown", capacity: 10, shards: 2)).StatusCode);

        var response = await host.Client.OrderAsync("unknown", 2);

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Contains("without an Idempotency-Key", problem.GetProperty("detail").GetString());
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
        var sales = await (await host.Client.GetAsync("/api/events/unknown/sales")).JsonAsync();
        Assert.Equal(2, sales.GetProperty("ticketTypes")[0].GetProperty("sold").GetInt64());
    }
}
