using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A shard that cannot learn its placement from the catalog for a moment (a duplicate catalog activation during a
/// membership change) is a passing fault: the buyer of a ticket type that exists never gets 404 for it.
/// </summary>
public sealed class TransientPlacementTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("buyer-1")]
    public async Task A_shard_whose_placement_the_catalog_cannot_give_yet_does_not_make_its_type_unknown(string? key)
    {
        using var storage = TestStorage.Sqlite();
        var placements = new FirstPlacementUnknown();
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(placements));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("placed", capacity: 10, shards: 1)).StatusCode);
        placements.Arm();

        var response = await host.Client.OrderAsync("placed", 2, key);

        Assert.True(placements.Answered, "The shard never asked the catalog for its placement.");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(2, await host.Client.SoldAsync("placed"));
    }

    [Fact]
    public async Task A_shard_whose_placement_is_unknown_is_no_ground_for_sold_out()
    {
        // Shard 1 of two cannot learn its placement while the catalog cannot say: it knows nothing of its ticket. Its
        // sales report must not count as "none left" beside shard 0's, or the buyer is told sold out while it holds one.
        using var storage = TestStorage.Sqlite();
        var placements = new PlacementUnknown(index: 1);
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(placements));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unplaced", capacity: 2, shards: 2)).StatusCode);
        // From the start, so the first ticket is sold by shard 0 and shard 1 never learns where it lives.
        placements.Unknown = true;
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("unplaced", 1)).StatusCode);

        var refused = await host.Client.OrderAsync("unplaced", 1);
        var problem = await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        // Like every definite refusal, it tells the buyer that nothing was sold, so a retry is safe.
        Assert.StartsWith("Nothing was sold.", problem.GetProperty("detail").GetString());
        // With a key, for this request only: an earlier one with the key may have made the order, which a retry returns.
        var keyed = await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("unplaced", 1, key: "unplaced-retry"),
            HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.StartsWith("Nothing was sold by this request. Retry shortly with the same Idempotency-Key",
            keyed.GetProperty("detail").GetString());

        placements.Unknown = false;
        await Poll.UntilAsync(async () => (await host.Client.OrderAsync("unplaced", 1)).StatusCode == HttpStatusCode.Created,
            attempts: 20, failure: "The ticket was never sold once the catalog could place its shard.");
        Assert.Equal(2, await host.Client.SoldAsync("unplaced"));
    }

    [Fact]
    public async Task A_catalog_activation_that_read_storage_before_the_event_was_stored_learns_of_it()
    {
        // Two silos over one storage that do not know of each other stand in for a duplicate catalog activation during a
        // membership change: the first reads "no such event" before the other activation stores it. Left stale, it
        // would deny an order that was acknowledged with 201, until it was deactivated.
        using var storage = TestStorage.Sqlite();
        await using var stale = await ApiHost.StartAsync(storage);
        await using var current = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.NotFound, (await stale.Client.GetAsync("/api/events/late")).StatusCode);

        Assert.Equal(HttpStatusCode.Created, (await current.Client.CreateEventAsync("late", capacity: 10, shards: 1)).StatusCode);
        var bought = await current.Client.OrderAsync("late", 2, key: "late-buyer");
        Assert.Equal(HttpStatusCode.Created, bought.StatusCode);
        var orderId = (await bought.JsonAsync()).GetProperty("orderId").GetString();

        await Poll.UntilAsync(async () => (await stale.Client.GetAsync($"/api/orders/{orderId}")).StatusCode == HttpStatusCode.OK,
            attempts: 50, failure: "The stale catalog activation never learned of the event, so the acknowledged order stayed 404.");
        Assert.Equal(HttpStatusCode.OK, (await stale.Client.GetAsync("/api/events/late")).StatusCode);
    }

    [Fact]
    public async Task An_order_looked_up_while_the_catalog_fails_to_answer_is_503_not_an_internal_error()
    {
        using var storage = TestStorage.Sqlite();
        string orderId;
        await using (var first = await ApiHost.StartAsync(storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("looked-up", capacity: 10, shards: 1)).StatusCode);
            orderId = (await (await first.Client.OrderAsync("looked-up", 2)).JsonAsync()).GetProperty("orderId").GetString()!;
        }
        // A restarted service: the shard's new activation must ask the catalog where it lives, and the catalog fails.
        var failing = new PlacementFails();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(failing));

        var refused = await host.Client.GetAsync($"/api/orders/{orderId}");
        Assert.True(failing.Failed, "The shard never asked the catalog for its placement.");
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);

        failing.Healed = true;
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync($"/api/orders/{orderId}")).StatusCode);
    }

    /// <summary>Until <see cref="Healed"/>, placement questions fail as a catalog whose storage throws would.</summary>
    private sealed class PlacementFails : IIncomingGrainCallFilter
    {
        public volatile bool Healed;
        public volatile bool Failed;

        public Task Invoke(IIncomingGrainCallContext call)
        {
            if (!Healed && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetPlacement))
            {
                Failed = true;
                throw new InvalidOperationException("The catalog's storage failed (played by a test).");
            }
            return call.Invoke();
        }
    }

    [Fact]
    public async Task An_order_on_a_shard_whose_placement_is_unknown_is_not_reported_missing()
    {
        // The shard exists (the front end checked), so a shard that cannot learn where it lives cannot say whether it
        // holds the order: "no such order" would be a definite answer it does not have.
        using var storage = TestStorage.Sqlite();
        var placements = new PlacementUnknown(index: 1) { Unknown = true };
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(placements));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("looked-up", capacity: 2, shards: 2)).StatusCode);
        var id = OrderId.New(new ShardAddress("looked-up", "ga", 1), DateTimeOffset.UtcNow);

        await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync($"/api/orders/{id}"), HttpStatusCode.ServiceUnavailable, "unavailable");

        // Once the shard can place itself, it can say: no such order.
        placements.Unknown = false;
        await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync($"/api/orders/{id}"), HttpStatusCode.NotFound, "order-not-found");
    }

    /// <summary>While <see cref="Unknown"/>, answers placement questions about one shard with "no such shard".</summary>
    private sealed class PlacementUnknown(int index) : IIncomingGrainCallFilter
    {
        public volatile bool Unknown;

        public Task Invoke(IIncomingGrainCallContext call)
        {
            if (Unknown && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetPlacement)
                && call.Request.GetArgument(1) is int asked && asked == index)
            {
                call.Result = null;
                return Task.CompletedTask;
            }
            return call.Invoke();
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("add-once")]
    public async Task A_capacity_addition_the_catalog_cannot_place_yet_is_a_503_to_retry_not_a_404(string? key)
    {
        // The type was found, then the catalog activation that takes the addition knows no event yet (a new one still
        // reading storage during a membership change): nothing was added, and the type exists.
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(
            new AnsweringFilter(typeof(ITicketEventGrain), nameof(ITicketEventGrain.AddCapacity), new CapacityAddition(CapacityStatus.NotFound))));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unplaced-add", capacity: 10, shards: 2)).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/unplaced-add/ticket-types/ga/capacity")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { quantity = 3 }),
        };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        var refused = await host.Client.SendAsync(request);

        var problem = await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.StartsWith(key is null ? "Nothing was added. Try again" : "Nothing was added by this request. Retry shortly with the same Idempotency-Key",
            problem.GetProperty("detail").GetString());
        var type = (await (await host.Client.GetAsync("/api/events/unplaced-add/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal(10L, type.GetProperty("capacity").GetInt64());
    }

    /// <summary>Answers every call of one grain interface's method with <paramref name="result"/>, without running it.</summary>
    private sealed class AnsweringFilter(Type grainInterface, string method, object result) : IIncomingGrainCallFilter
    {
        public Task Invoke(IIncomingGrainCallContext call)
        {
            if (call.InterfaceMethod.DeclaringType != grainInterface || call.InterfaceMethod.Name != method) return call.Invoke();
            call.Result = result;
            return Task.CompletedTask;
        }
    }

    /// <summary>Answers the first placement question after <see cref="Arm"/> with "no such shard", as a catalog that cannot say yet.</summary>
    private sealed class FirstPlacementUnknown : IIncomingGrainCallFilter
    {
        private int _state;

        public bool Answered => Volatile.Read(ref _state) == 2;

        public void Arm() => Volatile.Write(ref _state, 1);

        public Task Invoke(IIncomingGrainCallContext call)
        {
            if (call.InterfaceMethod.DeclaringType == typeof(ITicketEventGrain)
                && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetPlacement)
                && Interlocked.CompareExchange(ref _state, 2, 1) == 1)
            {
                call.Result = null;
                return Task.CompletedTask;
            }
            return call.Invoke();
        }
    }
}
