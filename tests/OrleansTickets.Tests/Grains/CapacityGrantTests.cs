using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Operators' capacity grants meeting the rest of the system half-way: a refresh that runs while a grant is taken
/// in, a shard that cannot yet learn where it lives, and a keyed grant that had to move past a drained shard.
/// </summary>
[RunsLong]
public sealed class CapacityGrantTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_grant_taken_in_while_a_refresh_runs_is_counted_by_that_refresh_and_sold()
    {
        // Holds the dispatcher's question about grants not yet taken in, once armed, until released.
        var armed = new TaskCompletionSource();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddOutgoingGrainCallFilter(async call =>
        {
            if (armed.Task.IsCompleted && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetGrantedCapacity))
            {
                reached.TrySetResult();
                await release.Task;
            }
            await call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("grant-race", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        try
        {
            Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("grant-race", "ga", 2)).Status);
            Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("grant-race", "ga", 2)).Status);

            // The type is sold out, so the next buyer's dispatcher refreshes; while its question about pending grants
            // waits, an operator's grant is stored, taken in by shard 0 and dropped from the pending list. Asked at
            // the same time as the shards, the catalog would now say "none pending" and shard 0 would already have
            // said "none left": the grant counted nowhere, and the buyer told "sold out" beside three new tickets.
            armed.TrySetResult();
            var late = cluster.BuyAsync("grant-race", "ga", 1);
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var added = await cluster.Client.GetEventGrain("grant-race").AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: null);
            Assert.Equal((CapacityStatus.Added, 0), (added.Status, added.ShardIndex));
            release.TrySetResult();

            var result = await late;
            Assert.Equal(PurchaseStatus.Created, result.Status);
            Assert.True(result.Order!.Tickets[0].Serial >= added.FirstSerial, "The buyer's ticket is one of the grant's.");
            var type = (await cluster.SalesAsync("grant-race")).TicketTypes[0];
            Assert.Equal((7L, 5L, 2L), (type.Capacity, type.Sold, type.Remaining));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_grant_taken_in_by_a_shard_after_it_answered_a_refresh_is_no_ground_for_sold_out()
    {
        // Shard 1's answer to the buyer's refresh is held, once armed, until the test releases it.
        var armed = new TaskCompletionSource();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("grant-late", "ga", 1), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                if (armed.Task.IsCompleted && reached.TrySetResult()) await release.Task;
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("grant-late", TicketingCluster.Type("ga", capacity: 2, shards: 2));
        try
        {
            // Shard 0 sold its one ticket; shard 1 holds the other.
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("grant-late", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("grant-late", "ga", 1))).Status);

            // A buyer of two: no shard holds two, so the dispatcher refreshes. The catalog answers "none pending", shard 0
            // "none left"; while shard 1 has not answered yet, an operator grants shard 0 one ticket, which it takes in.
            // Shard 1 then answers "one left": one counted, where two were unsold from the grant on.
            armed.TrySetResult();
            var buyer = cluster.BuyAsync("grant-late", "ga", 2);
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(10));
            var added = await cluster.Client.GetEventGrain("grant-late").AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: null);
            Assert.Equal((CapacityStatus.Added, 0), (added.Status, added.ShardIndex));
            release.TrySetResult();

            // Before, that refresh was the verdict: sold out, beside two tickets on sale.
            var result = await buyer;
            Assert.Equal(PurchaseStatus.Created, result.Status);
            Assert.Equal(2, result.Order!.Quantity);
            var type = (await cluster.SalesAsync("grant-late")).TicketTypes[0];
            Assert.Equal((3L, 3L, 0L), (type.Capacity, type.Sold, type.Remaining));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_catalog_answer_that_comes_after_the_shards_were_asked_is_no_ground_for_sold_out()
    {
        // Once armed: the dispatcher's question about pending grants is held until released (past the refresh's 2 s for
        // it), shard 1's sales answer too, and shard 0 says when it has answered. Shard 0 takes no gift in while blocked.
        var armed = new TaskCompletionSource();
        var blocked = true;
        var catalogHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var catalogRelease = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var catalogAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shard0Answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shard1Held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shard1Release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var shard0 = new ShardAddress("grant-slow", "ga", 0);
        var shard1 = new ShardAddress("grant-slow", "ga", 1);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo
            .AddOutgoingGrainCallFilter(async call =>
            {
                if (armed.Task.IsCompleted && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetGrantedCapacity) && catalogHeld.TrySetResult())
                {
                    await catalogRelease.Task;
                    await call.Invoke();
                    catalogAnswered.TrySetResult();
                    return;
                }
                await call.Invoke();
            })
            .AddIncomingGrainCallFilter(async call =>
            {
                var target = call.TargetId.Key.ToString();
                if (target == shard0.Key && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.AcceptTransfer) && Volatile.Read(ref blocked))
                {
                    throw new TimeoutException("Shard 0's silo did not answer (played by a test).");
                }
                if (armed.Task.IsCompleted && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales))
                {
                    if (target == shard1.Key && shard1Held.TrySetResult()) await shard1Release.Task;
                    await call.Invoke();
                    if (target == shard0.Key && catalogHeld.Task.IsCompleted) shard0Answered.TrySetResult();
                    return;
                }
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("grant-slow", TicketingCluster.Type("ga", capacity: 2, shards: 2));
        var catalog = cluster.Client.GetEventGrain("grant-slow");
        try
        {
            foreach (var index in new[] { 0, 1 })
            {
                Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("grant-slow", "ga", index).Purchase(TicketingCluster.KeylessPurchase("grant-slow", "ga", 1))).Status);
            }
            // An operator's ticket for shard 0, which cannot take it in yet: pending.
            Assert.Equal(CapacityStatus.Pending, (await catalog.AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: "late")).Status);

            armed.TrySetResult();
            var buyer = cluster.BuyAsync("grant-slow", "ga", 1);
            // The refresh gave up waiting for the catalog and asked the shards; shard 0 answered "none left".
            await shard1Held.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await shard0Answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            // Shard 0 takes the grant in, and the catalog drops it from its pending list; only then does the held
            // question reach the catalog, which answers "none pending", and then shard 1 answers "none left".
            Volatile.Write(ref blocked, false);
            Assert.Equal(CapacityStatus.Added, (await catalog.AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: "late")).Status);
            catalogRelease.TrySetResult();
            await catalogAnswered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            shard1Release.TrySetResult();

            // Before, the late answer was used as if it had come first: the grant counted nowhere, and sold out.
            var result = await buyer;
            Assert.Equal(PurchaseStatus.Created, result.Status);
            Assert.True(result.Order!.Tickets[0].Serial > 2, "The buyer's ticket is the grant's.");
        }
        finally
        {
            Volatile.Write(ref blocked, false);
            catalogRelease.TrySetResult();
            shard1Release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_catalog_activation_that_missed_a_grant_its_twin_stored_is_no_ground_for_sold_out()
    {
        // While armed, the dispatcher's question about grants is answered as a duplicate catalog activation answers it
        // when it read storage before its twin stored a grant: nothing pending, nothing ever granted. The grant waits on
        // shard 0, which cannot take it in, so no shard counts it either.
        var stale = false;
        var frozen = true;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            silo.AddOutgoingGrainCallFilter(call =>
            {
                if (Volatile.Read(ref stale) && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetGrantedCapacity))
                {
                    call.Result = new GrantedCapacity(Pending: 0, AddedEver: 0);
                    return Task.CompletedTask;
                }
                return call.Invoke();
            });
            TicketingCluster.Intercepting(new ShardAddress("grant-twin", "ga", 0), nameof(IInventoryShardGrain.AcceptTransfer), call => Volatile.Read(ref frozen)
                ? throw new TimeoutException("The shard's silo did not answer (played by a test).")
                : call.Invoke())(silo);
        }, output: output);
        await cluster.CreateEventAsync("grant-twin", TicketingCluster.Type("ga", capacity: 1, shards: 1));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("grant-twin", "ga", 1)).Status);
        var added = await cluster.Client.GetEventGrain("grant-twin").AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: null);
        Assert.Equal(CapacityStatus.Pending, added.Status);
        Volatile.Write(ref stale, true);

        // Before, the confirming question went to the same stale memory: "sold out", beside two granted tickets.
        Assert.Equal(PurchaseStatus.Unavailable, (await cluster.BuyAsync("grant-twin", "ga", 1)).Status);

        Volatile.Write(ref stale, false);
        Volatile.Write(ref frozen, false);
        await Poll.UntilAsync(async () => (await cluster.BuyAsync("grant-twin", "ga", 2)).Status == PurchaseStatus.Created, attempts: 100,
            failure: "The granted tickets never went on sale.");
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("grant-twin", "ga", 1)).Status);
    }

    [Fact]
    public async Task A_sold_out_type_is_not_asked_of_every_shard_again_until_a_grant_is_stored()
    {
        var reports = 0;
        // The dispatcher activation that served each purchase, in order. It is a stateless worker: a silo may start a
        // second one for a call that arrives while the first still counts the last call as running (a busy machine),
        // and each keeps its own verdict.
        var served = new System.Collections.Concurrent.ConcurrentQueue<object>();
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(call =>
        {
            if (call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales) && call.TargetId.Key.ToString()!.StartsWith("sold-once/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref reports);
            }
            if (call.Grain is PurchaseDispatcherGrain) served.Enqueue(call.Grain);
            return call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("sold-once", TicketingCluster.Type("ga", capacity: 4, shards: 4));
        for (var i = 0; i < 4; i++) Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("sold-once", "ga", 1)).Status);

        // Nothing can bring a ticket back but a grant, and the catalog's storage says none came: each buyer's refresh
        // asked all four shards again before. Three buyers, well inside the second the verdict stands alone. A machine
        // too slow for that gets a fresh verdict (the old one's second has passed, so its first buyer asks every shard
        // again) and another try; one that is never fast enough fails, since the check would otherwise never run.
        var afterVerdict = 0;
        var checkedInsideTheSecond = false;
        for (var attempt = 0; attempt < 5 && !checkedInsideTheSecond; attempt++)
        {
            var beforeVerdict = Volatile.Read(ref reports);
            var sinceVerdict = System.Diagnostics.Stopwatch.StartNew();
            served.Clear();
            Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("sold-once", "ga", 1)).Status);
            afterVerdict = Volatile.Read(ref reports);
            Assert.True(afterVerdict >= beforeVerdict + 4, "a verdict with none standing (the first, or one a second old) asks every shard");
            Assert.True(served.TryDequeue(out var verdictHolder));
            for (var i = 0; i < 3; i++) Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("sold-once", "ga", 1)).Status);
            // Each other activation among the three has no verdict of its own yet (any older one is past its second),
            // so its first buyer asks every shard, once, and its later buyers rest on that. Three buyers on three other
            // activations would each ask every shard either way, which proves nothing: tried again, like a slow try.
            var others = served.Where(grain => !ReferenceEquals(grain, verdictHolder)).Distinct(ReferenceEqualityComparer.Instance).Count();
            if (others > 0) output.WriteLine($"{others} other dispatcher activation(s) served the three buyers.");
            if (sinceVerdict.Elapsed < TimeSpan.FromSeconds(0.9) && others < 3)
            {
                Assert.Equal(afterVerdict + 4 * others, Volatile.Read(ref reports));
                afterVerdict = Volatile.Read(ref reports);
                checkedInsideTheSecond = true;
            }
            else
            {
                output.WriteLine($"Three buyers took {sinceVerdict.Elapsed} after the verdict, on {others} other activation(s); trying again on a fresh one.");
                await Task.Delay(TimeSpan.FromSeconds(1.2));
            }
        }
        Assert.True(checkedInsideTheSecond, "five tries never had three buyers inside the second after a verdict");

        // For a second only: a shard's report may have been wrong low (a duplicate activation not yet fenced), and
        // asking the shards again is what corrects such a verdict.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("sold-once", "ga", 1)).Status);
        Assert.True(Volatile.Read(ref reports) >= afterVerdict + 4, "a verdict a second old sends the next refresh to every shard");
        afterVerdict = Volatile.Read(ref reports);

        var added = await cluster.Client.GetEventGrain("sold-once").AddCapacity("ga", 2, shardIndex: 2, idempotencyKey: null);
        Assert.Equal(CapacityStatus.Added, added.Status);
        var result = await cluster.BuyAsync("sold-once", "ga", 2);
        Assert.Equal(PurchaseStatus.Created, result.Status);
        Assert.True(Volatile.Read(ref reports) > afterVerdict, "a grant sends the next refresh to every shard");
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("sold-once", "ga", 1)).Status);
    }

    [Fact]
    public async Task A_catalog_that_knows_no_event_is_no_ground_for_sold_out()
    {
        // While armed, the dispatcher's question about grants is answered as a duplicate catalog activation that read
        // storage before the event was stored answers it: null, not "nothing granted", which it cannot know.
        var unknown = true;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddOutgoingGrainCallFilter(call =>
        {
            if (Volatile.Read(ref unknown) && call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetGrantedCapacity))
            {
                call.Result = null;
                return Task.CompletedTask;
            }
            return call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("grant-unknown", TicketingCluster.Type("ga", capacity: 1, shards: 1));
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("grant-unknown", "ga", 1)).Status);

        Assert.Equal(PurchaseStatus.Unavailable, (await cluster.BuyAsync("grant-unknown", "ga", 1)).Status);
        Volatile.Write(ref unknown, false);
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("grant-unknown", "ga", 1)).Status);
    }

    [Fact]
    public async Task A_sales_read_waiting_on_a_silent_shard_does_not_hold_the_operators_grant()
    {
        // Shard 1 does not answer sales questions until released: its silo froze and is not yet declared dead.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("frozen", "ga", 1), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                reached.TrySetResult();
                await release.Task;
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("frozen", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var catalog = cluster.Client.GetEventGrain("frozen");
        try
        {
            // A buyer's page read is waiting on shard 1. The catalog is not reentrant, so before, the operator's
            // addition queued behind that read until the 30 s call timeout, and was then made anyway after the
            // operator had been told it failed.
            var asked = System.Diagnostics.Stopwatch.StartNew();
            var read = catalog.GetRecentSales();
            // The read must be inside the catalog, waiting on the shard, before the operator asks: otherwise the
            // addition would simply run first.
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(read.IsCompleted);

            var added = await catalog.AddCapacity("ga", 1, shardIndex: 0, idempotencyKey: "ops-frozen").WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal((CapacityStatus.Added, 0), (added.Status, added.ShardIndex));
            // The read itself gives up well before the 30 s call timeout: the page answers 503 and the buyer asks again.
            Assert.IsType<TimeoutException>(await Record.ExceptionAsync(() => read));
            Assert.True(asked.Elapsed < TimeSpan.FromSeconds(15), $"the read took {asked.Elapsed}");
            // The page views queued behind a failed read get its answer at once rather than each waiting it out again.
            var again = System.Diagnostics.Stopwatch.StartNew();
            Assert.IsType<TimeoutException>(await Record.ExceptionAsync(() => catalog.GetRecentSales()));
            Assert.True(again.Elapsed < TimeSpan.FromSeconds(3), $"the second read took {again.Elapsed}");
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task Sales_reads_queued_behind_one_a_silent_shard_failed_get_its_failure_without_asking_again()
    {
        // Each front end keeps one /sales read queued at the catalog (SharedSalesReads), back to back. With a silent
        // shard each of those reads held the catalog for the whole timeout, one after another, and an operator's addition
        // queued behind N front ends waited N times that, past the call timeout from six on. Counted, not timed: the
        // reads queued behind the failed one must not ask the shards again.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var asked = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("silent-sales", "ga", 1), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                Interlocked.Increment(ref asked);
                await release.Task;
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("silent-sales", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var catalog = cluster.Client.GetEventGrain("silent-sales");
        try
        {
            var first = catalog.GetSales();
            await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref asked) == 1), failure: "The first read never asked the silent shard.");
            var queued = new[] { catalog.GetSales(), catalog.GetSales(), catalog.GetRecentSales() };

            Assert.IsType<TimeoutException>(await Record.ExceptionAsync(() => first));
            foreach (var read in queued) Assert.IsType<TimeoutException>(await Record.ExceptionAsync(() => read));
            Assert.Equal(1, Volatile.Read(ref asked));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task Page_views_queued_behind_a_slow_sales_read_share_its_answer()
    {
        // Counting takes 1.5 s (a struggling shard). The views queued behind the first read each found its answer
        // older than a second, counted from when the read began, and ran a whole read of their own, one after another.
        var reads = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            new ShardAddress("slow-page", "ga", 0), nameof(IInventoryShardGrain.GetSales), async call =>
            {
                Interlocked.Increment(ref reads);
                await Task.Delay(TimeSpan.FromSeconds(1.5));
                await call.Invoke();
            }), output: output);
        await cluster.CreateEventAsync("slow-page", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var catalog = cluster.Client.GetEventGrain("slow-page");
        Volatile.Write(ref reads, 0);

        var views = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => catalog.GetRecentSales()));

        Assert.All(views, view => Assert.Equal(4L, Assert.Single(view!.TicketTypes).Remaining));
        Assert.Equal(1, Volatile.Read(ref reads));
    }

    [Fact]
    public async Task A_sales_read_gives_up_once_for_the_whole_event_not_once_per_ticket_type()
    {
        // Both types have a shard on a struggling silo that answers after 3 s. Each type's wait was bounded on its own
        // (5 s), so the read held the catalog 6 s and more with every further type; the event's read is bounded at 5 s.
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo =>
        {
            foreach (var type in new[] { "ga", "vip" })
            {
                TicketingCluster.Intercepting(new ShardAddress("slow-types", type, 0), nameof(IInventoryShardGrain.GetSales), async call =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(3));
                    await call.Invoke();
                })(silo);
            }
        }, output: output);
        await cluster.CreateEventAsync("slow-types", TicketingCluster.Type("ga", capacity: 4, shards: 1), TicketingCluster.Type("vip", capacity: 4, shards: 1));

        var asked = System.Diagnostics.Stopwatch.StartNew();
        var error = await Record.ExceptionAsync(() => cluster.Client.GetEventGrain("slow-types").GetSales());

        Assert.IsType<TimeoutException>(error);
        // The event's bound, not a shorter one per type (which would also give up, before either shard answered).
        Assert.True(asked.Elapsed >= TimeSpan.FromSeconds(4.5), $"gave up after {asked.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_shard_that_cannot_learn_its_placement_leaves_a_grant_pending_instead_of_refusing_it()
    {
        // The catalog answers the first placement question with "no such shard", as a duplicate activation of it
        // that started before the event was stored would during a membership change.
        var unplaced = 0;
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: silo => silo.AddIncomingGrainCallFilter(call =>
        {
            if (call.InterfaceMethod.Name == nameof(ITicketEventGrain.GetPlacement) && Interlocked.Exchange(ref unplaced, 1) == 0)
            {
                call.Result = null;
                return Task.CompletedTask;
            }
            return call.Invoke();
        }), output: output);
        await cluster.CreateEventAsync("unplaced", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var catalog = cluster.Client.GetEventGrain("unplaced");

        // The only shard is not drained; it just could not say so. Refusing would withdraw the grant for good and
        // tell the operator that every shard is drained.
        var first = await catalog.AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: "ops-unplaced");
        Assert.Equal(1, Volatile.Read(ref unplaced));
        Assert.Equal(CapacityStatus.Pending, first.Status);

        // The catalog's timer offers it again, and the shard, placed by then, takes it in.
        await Poll.UntilAsync(async () => (await cluster.SalesAsync("unplaced")).TicketTypes[0] is { Capacity: 6, Remaining: 6 } type
            && type.Shards[0].Capacity == 6, failure: "The pending grant never reached its shard.");
        var retry = await catalog.AddCapacity("ga", 2, shardIndex: 0, idempotencyKey: "ops-unplaced");
        Assert.Equal((CapacityStatus.Added, first.TransferId, 0), (retry.Status, retry.TransferId, retry.ShardIndex));
    }

    [Fact]
    public async Task A_keyed_retry_of_a_grant_that_moved_past_a_drained_shard_names_the_shard_holding_it()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("moved", TicketingCluster.Type("ga", capacity: 10, shards: 2));
        Assert.Equal(5L, (await cluster.Shard("moved", "ga", 0).Drain()).Moved);
        var catalog = cluster.Client.GetEventGrain("moved");

        var first = await catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-moved");
        Assert.Equal((CapacityStatus.Added, 1), (first.Status, first.ShardIndex));

        var retry = await catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-moved");
        Assert.Equal((CapacityStatus.Added, first.TransferId, 1), (retry.Status, retry.TransferId, retry.ShardIndex));
        // From what the catalog stored, too.
        await cluster.Cluster.DeactivateAsync(catalog);
        retry = await catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-moved");
        Assert.Equal((CapacityStatus.Added, first.TransferId, 1), (retry.Status, retry.TransferId, retry.ShardIndex));
        Assert.Equal(13L, (await cluster.SalesAsync("moved")).TicketTypes[0].Capacity);
    }
}
