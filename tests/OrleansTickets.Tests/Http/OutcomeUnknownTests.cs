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
    [InlineData("timeout")]
    [InlineData("silo-unavailable")]
    public async Task A_keyless_purchase_whose_dispatcher_lost_its_answer_is_503_outcome_unknown_and_sells_once(string loss)
    {
        using var storage = TestStorage.Sqlite();
        var lostAnswer = new LostPurchaseAnswer(Loss(loss), typeof(IPurchaseDispatcherGrain));
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

    [Theory]
    [InlineData("timeout")]
    [InlineData("silo-unavailable")]
    public async Task A_keyless_purchase_whose_shard_lost_its_answer_is_201_with_the_order_it_made_and_sells_once(string loss)
    {
        // Before the ninety-third session this was 503 outcome-unknown: now the dispatcher asks the shard again for the
        // order under the id it minted, and the shard answers with the order its first message made. The losses are
        // played at once, within the patience; a call that really times out waits past it and stays 503
        // outcome-unknown (SilentShardTests, DispatcherPatienceTests).
        using var storage = TestStorage.Sqlite();
        var lostAnswer = new LostPurchaseAnswer(Loss(loss), typeof(IInventoryShardGrain));
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(lostAnswer));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unknown", capacity: 10, shards: 2)).StatusCode);

        var response = await host.Client.OrderAsync("unknown", 2);

        Assert.True(lostAnswer.Lost);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = await response.JsonAsync();
        Assert.Equal(2, order.GetProperty("quantity").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(response.Headers.Location)).StatusCode);
        Assert.Equal(2, await host.Client.SoldAsync("unknown"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("lost-then-down")]
    public async Task A_purchase_whose_shard_lost_an_answer_and_then_stayed_unavailable_is_503_outcome_unknown(string? key)
    {
        using var storage = TestStorage.Sqlite();
        var home = new LostThenUnavailable();
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(home));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unknown", capacity: 10, shards: 1)).StatusCode);

        // The first ask sells and its answer is lost; every ask after it, to the dispatcher's patience, finds the shard
        // (the key's home, or the keyless order's) unable to load. "Unavailable" would tell the buyer nothing was made;
        // an order of 2 was.
        var response = await host.Client.OrderAsync("unknown", 2, key: key);

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Contains(key is null ? "without an Idempotency-Key" : "same Idempotency-Key", problem.GetProperty("detail").GetString());
        Assert.True(home.Asks > 1, "the dispatcher should have asked the shard again");
        Assert.Equal(2, await host.Client.SoldAsync("unknown"));
    }

    private static Func<Exception> Loss(string loss) => loss == "timeout"
        ? () => new TimeoutException("Response did not arrive on time (played by a test).")
        : () => new SiloUnavailableException("The target silo became unavailable (played by a test).");

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
