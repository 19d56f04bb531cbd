using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Catalog;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// Ids that name nothing (a made-up URL, a typo, a scan) are answered 404 without holding grains: no dispatcher or
/// shard is activated for them, and the catalog activation a made-up event id costs leaves once idle.
/// </summary>
public sealed class MadeUpIdTests
{
    [Fact]
    public async Task Made_up_events_types_and_shards_get_404_without_a_dispatcher_or_shard_activation()
    {
        using var storage = TestStorage.Sqlite();
        // Dispatchers are stateless workers, which Orleans' activation statistics leave out: the calls they get are counted.
        var calls = new DispatcherCalls();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(calls));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("real-fest", capacity: 10, shards: 2)).StatusCode);
        var now = DateTimeOffset.UtcNow;

        await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("made-up-fest", 1), HttpStatusCode.NotFound, "event-not-found");
        await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("made-up-fest", 1, key: "k1"), HttpStatusCode.NotFound, "event-not-found");
        await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("real-fest", 1, ticketTypeId: "made-up-type"),
            HttpStatusCode.NotFound, "ticket-type-not-found");
        foreach (var shard in new[]
        {
            new ShardAddress("made-up-fest", "ga", 0),
            new ShardAddress("real-fest", "made-up-type", 0),
            new ShardAddress("real-fest", "ga", 2),
        })
        {
            await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync($"/api/orders/{OrderId.New(shard, now)}"),
                HttpStatusCode.NotFound, "order-not-found");
        }
        // A made-up order of a shard that exists asks that shard, which is how the answer is known.
        await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync($"/api/orders/{OrderId.New(new ShardAddress("real-fest", "ga", 1), now)}"),
            HttpStatusCode.NotFound, "order-not-found");

        Assert.Equal(["real-fest/ga/1"], await ActivationKeysAsync(host, nameof(InventoryShardGrain)));
        Assert.Empty(calls.Keys);
        // The real type still sells, through the dispatcher the directory names.
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("real-fest", 2)).StatusCode);
        Assert.Equal(2, await host.Client.SoldAsync("real-fest"));
        Assert.Equal(["real-fest/ga"], calls.Keys);
    }

    [Fact]
    public async Task A_catalog_activation_for_no_event_leaves_once_idle_and_a_later_create_is_found()
    {
        using var storage = TestStorage.Sqlite();
        var clock = new ShiftedClock();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<TimeProvider>(clock));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("kept-fest", capacity: 10, shards: 1)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/api/events/kept-fest")).StatusCode);
        await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync("/api/events/ghost-fest"), HttpStatusCode.NotFound, "event-not-found");
        Assert.Contains("event/ghost-fest", await ActivationKeysAsync(host, nameof(TicketEventGrain)));

        // Asked again within the idle limit, its 30 s start again: 40 s (and the wait's 6) after it began, but only 15 s
        // (and 6) after that question, it stays. Counted from its start instead, it would have left.
        clock.Shift = TimeSpan.FromSeconds(25);
        await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync("/api/events/ghost-fest"), HttpStatusCode.NotFound, "event-not-found");
        clock.Shift = TimeSpan.FromSeconds(40);
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.Contains("event/ghost-fest", await ActivationKeysAsync(host, nameof(TicketEventGrain)));

        clock.Shift = TimeSpan.FromSeconds(60);
        await Poll.UntilAsync(async () => !(await ActivationKeysAsync(host, nameof(TicketEventGrain))).Contains("event/ghost-fest"),
            attempts: 150, failure: "The catalog activation of an id that names no event stayed past its idle limit.");
        // An event's own catalog activation stays however long it is idle.
        Assert.Contains("event/kept-fest", await ActivationKeysAsync(host, nameof(TicketEventGrain)));

        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("ghost-fest", capacity: 10, shards: 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("ghost-fest", 1)).StatusCode);
    }

    /// <summary>The keys of the live activations of the grain classes named.</summary>
    private static async Task<List<string>> ActivationKeysAsync(ApiHost host, params string[] grainClasses)
    {
        var statistics = await host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        return [.. statistics.Where(s => grainClasses.Any(c => s.GrainType.Contains(c, StringComparison.Ordinal)))
            .Select(s => s.GrainId.Key.ToString()!).Order(StringComparer.Ordinal)];
    }

    /// <summary>The keys of the dispatchers that got a call, in the order of their first.</summary>
    private sealed class DispatcherCalls : IIncomingGrainCallFilter
    {
        private readonly List<string> _keys = [];

        public List<string> Keys
        {
            get { lock (_keys) return [.. _keys]; }
        }

        public Task Invoke(IIncomingGrainCallContext call)
        {
            if (call.Grain is PurchaseDispatcherGrain)
            {
                var key = call.TargetId.Key.ToString()!;
                lock (_keys)
                {
                    if (!_keys.Contains(key)) _keys.Add(key);
                }
            }
            return call.Invoke();
        }
    }
}
