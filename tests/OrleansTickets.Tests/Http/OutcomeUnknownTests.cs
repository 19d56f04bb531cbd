using System.Net;
using System.Net.Http.Json;
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

    [Fact]
    public async Task A_keyed_purchase_whose_home_lost_an_answer_and_then_stayed_unavailable_is_503_outcome_unknown()
    {
        using var storage = TestStorage.Sqlite();
        var home = new LostThenUnavailable();
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(home));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unknown", capacity: 10, shards: 1)).StatusCode);

        // The first ask sells and its answer is lost; every ask after it, to the dispatcher's patience, finds the home
        // unable to load. "Unavailable" would tell the buyer nothing was made; an order of 2 was.
        var response = await host.Client.OrderAsync("unknown", 2, key: "lost-then-down");

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Contains("same Idempotency-Key", problem.GetProperty("detail").GetString());
        Assert.True(home.Asks > 1, "the dispatcher should have asked the home again");
        Assert.Equal(2, await host.Client.SoldAsync("unknown"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("add-vip-once")]
    public async Task A_capacity_addition_whose_answer_was_lost_is_503_outcome_unknown_and_adds_once(string? key)
    {
        using var storage = TestStorage.Sqlite();
        var lost = new LostAdditionAnswer();
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(lost));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("grant", capacity: 10, shards: 2)).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/grant/ticket-types/ga/capacity")
        {
            Content = JsonContent.Create(new { quantity = 3 }),
        };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        var response = await host.Client.SendAsync(request);

        // The grant was stored and delivered; only its answer was lost. Before, this was 503 "unavailable, try again
        // shortly", and an operator without a key who did so added the tickets twice.
        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Contains(key is null ? "/api/events/grant/sales" : "same Idempotency-Key", problem.GetProperty("detail").GetString());
        var sales = await (await host.Client.GetAsync("/api/events/grant/sales")).JsonAsync();
        Assert.Equal(13, sales.GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
        if (key is null) return;

        using var retry = new HttpRequestMessage(HttpMethod.Post, "/api/events/grant/ticket-types/ga/capacity")
        {
            Content = JsonContent.Create(new { quantity = 3 }),
        };
        retry.Headers.Add("Idempotency-Key", key);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.SendAsync(retry)).StatusCode);
        sales = await (await host.Client.GetAsync("/api/events/grant/sales")).JsonAsync();
        Assert.Equal(13, sales.GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
    }

    [Fact]
    public async Task A_capacity_addition_whose_catalog_write_lost_its_answer_is_503_outcome_unknown()
    {
        // The catalog's storage passes on the database driver's own error for a write whose answer was lost (a
        // connection cut after COMMIT): not a timeout, nor anything of Orleans'. It was answered 500, and an operator
        // without a key who tried again added the tickets twice.
        using var storage = TestStorage.Sqlite();
        var faults = new FaultyCatalogStorage();
        await using var host = await ApiHost.StartAsync(storage, services: faults.Install);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("stored", capacity: 10, shards: 2)).StatusCode);
        faults.LoseNextWriteAnswer("event", new IOException("The connection was reset after COMMIT (played by a test)."));

        var response = await host.Client.PostAsync("/api/events/stored/ticket-types/ga/capacity", JsonContent.Create(new { quantity = 3 }));

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Contains("/api/events/stored/sales", problem.GetProperty("detail").GetString());
        // The grant was stored: the catalog's next activation reads it and delivers it.
        var sales = await (await host.Client.GetAsync("/api/events/stored/sales")).JsonAsync();
        Assert.Equal(13, sales.GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
    }

    /// <summary>The catalog's first capacity addition runs to its end, and its caller gets a timeout instead of the answer.</summary>
    private sealed class LostAdditionAnswer : IIncomingGrainCallFilter
    {
        private int _lost;

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(OrleansTickets.Events.ITicketEventGrain.AddCapacity) && Interlocked.Exchange(ref _lost, 1) == 0)
            {
                throw new TimeoutException("Response did not arrive on time (played by a test).");
            }
        }
    }

    /// <summary>The home's first purchase runs and its answer is lost; later ones are answered "unavailable" unrun.</summary>
    private sealed class LostThenUnavailable : IIncomingGrainCallFilter
    {
        private int _asks;

        public int Asks => Volatile.Read(ref _asks);

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            if (call.InterfaceMethod.DeclaringType != typeof(IInventoryShardGrain) || call.InterfaceMethod.Name != nameof(IInventoryShardGrain.Purchase))
            {
                await call.Invoke();
                return;
            }
            if (Interlocked.Increment(ref _asks) > 1)
            {
                call.Result = PurchaseResult.Unavailable;
                return;
            }
            await call.Invoke();
            throw new TimeoutException("Response did not arrive on time (played by a test).");
        }
    }
}
