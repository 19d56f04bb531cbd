using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Which refreshes a buyer may be answered from: one still asking the catalog or the shards when it arrived serves it,
/// since its read of the catalog's storage comes later, and so does the wait on reserved tickets after it; one whose
/// read had begun does not, since a grant stored before the buyer arrived may be missing from it.
/// </summary>
/// <remarks>
/// A dispatcher is a stateless worker: a buyer arriving while every local activation runs a request goes to one of them
/// (the first), and each activation refreshes on its own. So the tests first give every activation a held refresh,
/// however many the machine's cores allow, and then send the buyer under test, which meets one of them.
/// </remarks>
public sealed class RefreshArrivalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_buyer_arriving_before_a_refresh_reads_the_catalog_s_storage_is_answered_by_that_refresh()
    {
        // Once armed, every refresh's question about pending grants (its first step) waits until released.
        var held = new HeldCatalogCalls(nameof(ITicketEventGrain.GetGrantedCapacity), afterAnswer: false);
        var storageReads = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo
            .AddOutgoingGrainCallFilter(held.FilterAsync)
            .AddOutgoingGrainCallFilter(call =>
            {
                if (held.Armed && call.InterfaceMethod.Name == nameof(ITicketEventGrain.ReadGrantedEver)) Interlocked.Increment(ref storageReads);
                return call.Invoke();
            }), output: output);
        await CreateSoldOutEventAsync(cluster, "joined");
        try
        {
            held.Arm();
            var waiting = await HoldARefreshInEveryActivationAsync(cluster, "joined", held);
            var buyer = await SendBuyerThatMeetsAHeldRefreshAsync(cluster, "joined", held);
            held.Release();

            foreach (var other in waiting) Assert.Equal(PurchaseStatus.SoldOut, (await other).Status);
            Assert.Equal(PurchaseStatus.SoldOut, (await buyer).Status);
            // One read of the catalog's storage per held refresh, each the verdict of its activation's buyers. Before,
            // the last buyer waited for the refresh it met and then ran one more, for a read of its own.
            Assert.Equal(waiting.Count, Volatile.Read(ref storageReads));
        }
        finally
        {
            held.Release();
        }
    }

    [Fact]
    public async Task A_buyer_arriving_after_a_refresh_read_the_catalog_s_storage_is_not_answered_by_it()
    {
        // Once armed, every read of the catalog's storage is made at once but its answer waits until released.
        var held = new HeldCatalogCalls(nameof(ITicketEventGrain.ReadGrantedEver), afterAnswer: true);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(),
            configureSilo: silo => silo.AddOutgoingGrainCallFilter(held.FilterAsync), output: output);
        await CreateSoldOutEventAsync(cluster, "read-early");
        try
        {
            held.Arm();
            // Every activation's refresh has read "no grant"; an operator then grants a ticket before the last buyer
            // arrives. Answered from a refresh it met, that buyer would be told "sold out" beside the new ticket.
            var holding = System.Diagnostics.Stopwatch.StartNew();
            var waiting = await HoldARefreshInEveryActivationAsync(cluster, "read-early", held);
            var added = await cluster.Client.GetEventGrain("read-early").AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: null);
            Assert.Equal(CapacityStatus.Added, added.Status);
            var buyer = await SendBuyerThatMeetsAHeldRefreshAsync(cluster, "read-early", held);
            held.Release();
            var heldFor = holding.Elapsed;

            // The buyer gets the new ticket. Only a held refresh that waited past its 2 s for the read (a slow machine)
            // and refreshed again may have given it to one of the others; released well before that, none did.
            var answers = await Task.WhenAll(waiting.Append(buyer));
            Assert.Single(answers, answer => answer.Status == PurchaseStatus.Created);
            if (heldFor < TimeSpan.FromSeconds(1.5)) Assert.Equal(PurchaseStatus.Created, (await buyer).Status);
            Assert.All(answers, answer => Assert.Contains(answer.Status, new[] { PurchaseStatus.Created, PurchaseStatus.SoldOut }));
            var type = (await cluster.SalesAsync("read-early")).TicketTypes[0];
            Assert.Equal((5L, 5L, 0L), (type.Capacity, type.Sold, type.Remaining));
        }
        finally
        {
            held.Release();
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("waits-key-")]
    public async Task A_buyer_served_by_a_refresh_it_met_is_answered_by_the_wait_on_reserved_tickets_that_follows_it(string? keyPrefix)
    {
        // Once armed, every refresh's question about pending grants waits until released; pauses can be stretched to a
        // minute, so that a buyer is answered within the test's bound only by the end of the commit it waits on.
        var clock = new StretchedPauses();
        var held = new HeldCatalogCalls(nameof(ITicketEventGrain.GetGrantedCapacity), afterAnswer: false);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.Services.AddSingleton<TimeProvider>(clock);
            silo.AddOutgoingGrainCallFilter(held.FilterAsync);
        }, output: output);
        await cluster.CreateEventAsync("waits", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var shard = cluster.Shard("waits", "ga", 0);
        await shard.GetSales();
        using var pauses = cluster.CollectMetric<long>("orleanstickets.dispatch.pauses");
        using var refreshes = cluster.CollectMetric<long>("orleanstickets.dispatch.refreshes");
        long Refreshes() => refreshes.GetMeasurementSnapshot().Sum(m => m.Value);
        try
        {
            Task<PurchaseResult> first, buyer;
            List<Task<PurchaseResult>> waiting;
            long beforeCommit;
            await using (var holding = await cluster.HoldWritesAsync("waits", "ga", 0))
            {
                // Every ticket is reserved by a purchase that cannot commit yet.
                first = shard.Purchase(TicketingCluster.KeylessPurchase("waits", "ga", 4));
                await Poll.UntilAsync(async () => (await shard.GetSales()).Reserved == 4, failure: "The first purchase's tickets were never reserved.");
                held.Arm();
                waiting = await HoldARefreshInEveryActivationAsync(cluster, "waits", held, keyPrefix);
                buyer = await SendBuyerThatMeetsAHeldRefreshAsync(cluster, "waits", held, keyPrefix);
                clock.Stretching = true;
                held.Release();
                // Each refresh finds the 4 tickets reserved, so every buyer pauses on the commit holding them.
                var buyers = waiting.Count + 1;
                await Poll.UntilAsync(() => Task.FromResult(TicketingCluster.PausesFor(pauses, "tickets") >= buyers),
                    failure: "Not every buyer paused for the reserved tickets.");
                beforeCommit = Refreshes();
                // Only the pauses under way when the commit lands are stretched.
                clock.Stretching = false;
            }

            Assert.Equal(PurchaseStatus.Created, (await first).Status);
            foreach (var other in waiting) Assert.Equal(PurchaseStatus.SoldOut, (await other.WaitAsync(TimeSpan.FromSeconds(20))).Status);
            Assert.Equal(PurchaseStatus.SoldOut, (await buyer.WaitAsync(TimeSpan.FromSeconds(20))).Status);
            // Each buyer heard it from its wait, the last one too: before, it refreshed every shard once more for it.
            Assert.Equal(beforeCommit, Refreshes());
        }
        finally
        {
            held.Release();
        }
    }

    /// <summary>An event whose one type's 4 tickets on 2 shards are sold, through the dispatcher.</summary>
    private static async Task CreateSoldOutEventAsync(TicketingCluster cluster, string eventId)
    {
        await cluster.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 4, shards: 2));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 2)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync(eventId, "ga", 2)).Status);
    }

    /// <summary>
    /// Gives every dispatcher activation of the type a refresh that <paramref name="held"/> holds: one-ticket buyers of
    /// the sold-out type, sent one at a time while the others wait, each reaching an
    /// activation of its own (Orleans starts up to one per core), whose refresh it starts.
    /// </summary>
    private static async Task<List<Task<PurchaseResult>>> HoldARefreshInEveryActivationAsync(
        TicketingCluster cluster, string eventId, HeldCatalogCalls held, string? keyPrefix = null)
    {
        var waiting = new List<Task<PurchaseResult>>();
        for (var sent = 0; sent < Environment.ProcessorCount; sent++)
        {
            waiting.Add(cluster.BuyAsync(eventId, "ga", 1, keyPrefix is null ? null : keyPrefix + sent, buyer: "Buyer" + sent));
            var expected = sent + 1;
            // Polled often: the first refresh must be released within the dispatcher's 2 s for its questions, or it
            // gives up on them and its buyer refreshes again, on a machine of many cores too.
            await Poll.UntilAsync(() => Task.FromResult(held.Count == expected), attempts: 2000, delayMilliseconds: 2,
                failure: $"Buyer {sent} started no refresh of its own.");
        }
        return waiting;
    }

    /// <summary>The buyer under test, once it has met a held refresh: it starts none of its own, and waits.</summary>
    private static async Task<Task<PurchaseResult>> SendBuyerThatMeetsAHeldRefreshAsync(
        TicketingCluster cluster, string eventId, HeldCatalogCalls held, string? keyPrefix = null)
    {
        var before = held.Count;
        var buyer = cluster.BuyAsync(eventId, "ga", 1, keyPrefix is null ? null : keyPrefix + "last", buyer: "Last");
        // Time enough for a grain call in the same process to arrive and start a refresh, were it to start one.
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        Assert.Equal(before, held.Count);
        Assert.False(buyer.IsCompleted, "the buyer should wait for the refresh it met");
        return buyer;
    }

    /// <summary>
    /// Once armed, holds every call the dispatchers make to one catalog method until released: before the call goes out,
    /// or once its answer has come (<paramref name="afterAnswer"/>). Counts the calls it held.
    /// </summary>
    private sealed class HeldCatalogCalls(string method, bool afterAnswer)
    {
        private readonly TaskCompletionSource _armed = new();
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public bool Armed => _armed.Task.IsCompleted;

        public int Count => Volatile.Read(ref _count);

        public void Arm() => _armed.TrySetResult();

        public void Release() => _release.TrySetResult();

        public async Task FilterAsync(IOutgoingGrainCallContext call)
        {
            if (!Armed || call.InterfaceMethod.Name != method)
            {
                await call.Invoke();
                return;
            }
            if (afterAnswer) await call.Invoke();
            Interlocked.Increment(ref _count);
            await _release.Task;
            if (!afterAnswer) await call.Invoke();
        }
    }
}
