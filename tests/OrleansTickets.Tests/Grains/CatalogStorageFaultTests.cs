using Orleans.Storage;
using OrleansTickets.Events;
using OrleansTickets.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The catalog's own writes failing: before they reach the database, or after (the answer lost). Memory must never
/// get ahead of storage, and an operator's retry must find what storage really holds.
/// </summary>
public sealed class CatalogStorageFaultTests(ITestOutputHelper output)
{
    private const string AllocatorState = "allocator";
    private const string EventState = "event";

    [Fact]
    public async Task A_shard_map_write_that_failed_hands_the_same_databases_to_the_next_event()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        await cluster.CreateEventAsync("first", TicketingCluster.Type("ga", capacity: 4, shards: 2));

        faults.FailNextWrite(AllocatorState, new InvalidOperationException("The catalog database refused the write (played by a test)."));
        await AssertFailedByTheFaultAsync(() => cluster.CreateEventAsync("second", TicketingCluster.Type("ga", capacity: 4, shards: 2)));
        await cluster.CreateEventAsync("third", TicketingCluster.Type("ga", capacity: 4, shards: 2));

        // Nothing of the failed event was stored, so its databases are still next in turn.
        Assert.Equal(new[] { 0, 1 }, (await cluster.Client.GetEventGrain("first").GetShardDatabases()).ToArray());
        Assert.Equal(new[] { 2, 3 }, (await cluster.Client.GetEventGrain("third").GetShardDatabases()).ToArray());
    }

    [Fact]
    public async Task A_shard_map_write_whose_answer_was_lost_does_not_fail_the_next_event()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        await cluster.CreateEventAsync("first", TicketingCluster.Type("ga", capacity: 4, shards: 2));

        faults.LoseNextWriteAnswer(AllocatorState, new TimeoutException("The catalog database's answer was lost (played by a test)."));
        await AssertFailedByTheFaultAsync(() => cluster.CreateEventAsync("second", TicketingCluster.Type("ga", capacity: 4, shards: 2)));

        // The write landed, so the version the allocator holds is stale: writing with it would be refused.
        await cluster.CreateEventAsync("third", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        Assert.Equal(new[] { 4, 5 }, (await cluster.Client.GetEventGrain("third").GetShardDatabases()).ToArray());
    }

    [Fact]
    public async Task An_event_grain_that_lost_a_create_race_and_could_not_reread_makes_way_for_one_that_can()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        var catalog = cluster.Client.GetEventGrain("raced");
        Assert.Null(await catalog.GetDefinition());

        // Another activation stored the event first (played by storing it and answering "version conflict"), and the
        // read that follows a conflict fails.
        faults.LoseNextWriteAnswer(EventState, new InconsistentStateException("Another activation stored the event first (played by a test)."));
        faults.FailNextRead(EventState);
        var definition = new EventDefinition("raced", "Raced", [TicketingCluster.Type("ga", capacity: 4, shards: 1)]);
        await AssertFailedByTheFaultAsync(() => catalog.Create(definition));

        // The event exists; an activation that still answers "no such event" would refuse its every sale.
        await Poll.UntilAsync(async () => await catalog.GetDefinition() is not null, attempts: 50,
            failure: "The event grain went on answering that the stored event does not exist.");
    }

    [Fact]
    public async Task An_event_grain_that_cannot_read_its_storage_says_so_rather_than_that_there_is_no_such_event()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        // An activation that knows no event (a duplicate activation during a membership change may be one for an
        // event its twin stored) reads storage again when asked, at most once a second.
        var catalog = cluster.Client.GetEventGrain("unknown");
        Assert.Null(await catalog.GetDefinition());

        // Until the next read (at most once a second) it still cannot tell. The failed read begins after the stopwatch,
        // so a second question under 0.9 s on is inside that second; a machine too slow to ask again by then reads
        // afresh instead, so the round is played again, a few times at most, rather than pass without checking.
        var checkedInsideTheSecond = false;
        for (var round = 0; round < 5 && !checkedInsideTheSecond; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1.2));
            faults.FailNextRead(EventState);
            var sinceRead = System.Diagnostics.Stopwatch.StartNew();
            // "No such event" would be final to a client (404), for an event that may exist.
            await Assert.ThrowsAsync<CatalogUnavailableException>(() => catalog.GetDefinition());
            var again = await Record.ExceptionAsync(async () => await catalog.GetShardDatabases());
            if (sinceRead.Elapsed >= TimeSpan.FromSeconds(0.9)) continue;
            Assert.IsType<CatalogUnavailableException>(again);
            checkedInsideTheSecond = true;
        }
        Assert.True(checkedInsideTheSecond, "No round asked again within 0.9 s of the failed read.");

        // Once a read succeeds, the answer is known again.
        await Poll.UntilAsync(async () => await Record.ExceptionAsync(() => catalog.GetDefinition()) is null, attempts: 50,
            failure: "The event grain went on answering that it cannot tell after its storage came back.");
        Assert.Null(await catalog.GetDefinition());
    }

    [Fact]
    public async Task A_grant_whose_write_failed_is_not_delivered_and_a_retry_with_its_key_adds_it_once()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        await cluster.CreateEventAsync("grant", TicketingCluster.Type("ga", capacity: 4, shards: 1));
        var catalog = cluster.Client.GetEventGrain("grant");

        faults.FailNextWrite(EventState, new InvalidOperationException("The catalog database refused the write (played by a test)."));
        await AssertFailedByTheFaultAsync(() => catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-refused"));
        Assert.Equal(4L, (await cluster.SalesAsync("grant")).TicketTypes[0].Capacity);

        faults.LoseNextWriteAnswer(EventState, new TimeoutException("The catalog database's answer was lost (played by a test)."));
        await AssertFailedByTheFaultAsync(() => catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-lost"));
        var retried = await catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: "ops-lost");

        Assert.Equal(CapacityStatus.Added, retried.Status);
        Assert.Equal(7L, (await cluster.SalesAsync("grant")).TicketTypes[0].Capacity);
    }

    [Fact]
    public async Task A_withdrawal_whose_write_failed_leaves_the_type_undrained_until_one_is_stored()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        await cluster.CreateEventAsync("withdrawal", TicketingCluster.Type("ga", capacity: 4, shards: 2), TicketingCluster.Type("vip", capacity: 2, shards: 1));
        Assert.Equal(2L, (await cluster.Shard("withdrawal", "ga", 0).Drain()).Moved);
        Assert.Equal(4L, (await cluster.Shard("withdrawal", "ga", 1).Drain()).Left);
        var catalog = cluster.Client.GetEventGrain("withdrawal");

        // The grant is stored; its withdrawal (which would record the type as drained) is not.
        faults.FailWriteAfterNext(EventState, new InvalidOperationException("The catalog database refused the write (played by a test)."));
        await AssertFailedByTheFaultAsync(() => catalog.AddCapacity("ga", 3, shardIndex: null, idempotencyKey: "ops-1"));

        // So the type is not taken for drained: the retry finds the stored grant, offers it again and withdraws it, and
        // only then are additions refused before anything is stored.
        var retried = await catalog.AddCapacity("ga", 3, shardIndex: null, idempotencyKey: "ops-1");
        Assert.Equal((CapacityStatus.Refused, "capacity/withdrawal/1"), (retried.Status, retried.TransferId));
        var later = await catalog.AddCapacity("ga", 1, shardIndex: null, idempotencyKey: "ops-2");
        Assert.Equal((CapacityStatus.Refused, null), (later.Status, later.TransferId));
        Assert.Equal("capacity/withdrawal/2", (await catalog.AddCapacity("vip", 1, shardIndex: null, idempotencyKey: null)).TransferId);
        Assert.Equal(4L, (await cluster.SalesAsync("withdrawal")).TicketTypes.Single(t => t.Id == "ga").Capacity);
    }

    [Fact]
    public async Task A_delivery_whose_record_failed_is_counted_once_and_the_type_still_sells_out()
    {
        var faults = new FaultyCatalogStorage();
        await using var cluster = await StartAsync(faults);
        await cluster.CreateEventAsync("delivered", TicketingCluster.Type("ga", capacity: 2, shards: 1, maxPerOrder: 2));
        var catalog = cluster.Client.GetEventGrain("delivered");

        // The grant is stored and taken in; the write that records its delivery fails, so the next catalog activation
        // finds it pending and offers it again, and the shard answers that it holds it already.
        faults.FailWriteAfterNext(EventState, new InvalidOperationException("The catalog database refused the write (played by a test)."));
        Assert.Equal(CapacityStatus.Added, (await catalog.AddCapacity("ga", 3, shardIndex: 0, idempotencyKey: null)).Status);
        Assert.False(faults.WriteFaultArmed(EventState), "The delivery's record was never written, so the fault never played.");
        await Poll.UntilAsync(async () => await catalog.GetGrantedCapacity("ga") is { Pending: 0 } granted && granted.DeliveredTo(0) == 3,
            failure: "The grant was never recorded as delivered.");
        // What storage holds, read by a new activation: delivered once, after the redelivery.
        await cluster.Cluster.DeactivateAsync(catalog);
        var stored = await catalog.GetGrantedCapacity("ga");
        Assert.Equal((0L, 3L, 3L), (stored!.Pending, stored.AddedEver, stored.DeliveredTo(0)));

        // The redelivery is answered from what the shard took in; its count must equal the shard's own, or no refresh would
        // ever give "sold out".
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("delivered", "ga", 2)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("delivered", "ga", 2)).Status);
        Assert.Equal(PurchaseStatus.Created, (await cluster.BuyAsync("delivered", "ga", 1)).Status);
        Assert.Equal(PurchaseStatus.SoldOut, (await cluster.BuyAsync("delivered", "ga", 1)).Status);
        Assert.True((await cluster.SalesAsync("delivered")).TicketTypes[0].Known);
    }

    /// <summary>
    /// The call fails, and because of the fault the test played (each says so in its message), not for a reason of its
    /// own that would let the test pass without reaching the storage at all.
    /// </summary>
    private static async Task AssertFailedByTheFaultAsync(Func<Task> call)
    {
        var error = await Record.ExceptionAsync(call);
        Assert.NotNull(error);
        Assert.True(ExceptionCauses.Of(error).Any(cause => cause.Message.Contains("(played by a test)", StringComparison.Ordinal)),
            $"The call failed, but not because of the played fault: {error}");
    }

    private Task<TicketingCluster> StartAsync(FaultyCatalogStorage faults) =>
        TicketingCluster.StartAsync(TestStorage.Sqlite(maxShardDatabases: 8), configureSilo: faults.Install, output: output);
}
