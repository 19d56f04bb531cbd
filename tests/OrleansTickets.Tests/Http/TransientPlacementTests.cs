using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
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
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");

        placements.Unknown = false;
        await Poll.UntilAsync(async () => (await host.Client.OrderAsync("unplaced", 1)).StatusCode == HttpStatusCode.Created,
            attempts: 20, failure: "The ticket was never sold once the catalog could place its shard.");
        Assert.Equal(2, await host.Client.SoldAsync("unplaced"));
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
