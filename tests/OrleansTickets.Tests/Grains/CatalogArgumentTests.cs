using OrleansTickets.Events;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// The catalog does not rest on its callers' checks: the HTTP API bounds additions and picks the grain from the
/// definition's id, but a direct grain call that does neither is refused before anything is stored.
/// </summary>
public sealed class CatalogArgumentTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_definition_under_another_events_id_is_refused_and_neither_event_exists()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        var definition = new EventDefinition("other-id", "Event other-id", [TicketingCluster.Type("ga", capacity: 4, shards: 2)]);

        // Its transfer ids and shard addresses would be the other event's, shared with that event's shards.
        await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.GetEventGrain("grain-id").Create(definition));

        Assert.Null(await cluster.Client.GetEventGrain("grain-id").GetDefinition());
        Assert.Null(await cluster.Client.GetEventGrain("other-id").GetDefinition());
        Assert.Equal(CreateEventOutcome.Created, await cluster.Client.GetEventGrain("other-id").Create(definition));
    }

    [Fact]
    public async Task An_addition_whose_serials_would_pass_the_largest_number_is_refused_and_changes_nothing()
    {
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), output: output);
        await cluster.CreateEventAsync("huge-grant", TicketingCluster.Type("ga", capacity: 4, shards: 2));
        var catalog = cluster.Client.GetEventGrain("huge-grant");

        // Its last serial, 4 + long.MaxValue, would wrap round to a negative number.
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => catalog.AddCapacity("ga", long.MaxValue, shardIndex: null, idempotencyKey: "huge"));

        Assert.Equal(0, (await catalog.GetGrantedCapacity("ga"))!.AddedEver);
        var added = await catalog.AddCapacity("ga", 3, shardIndex: null, idempotencyKey: "huge");
        Assert.Equal((CapacityStatus.Added, 5L), (added.Status, added.FirstSerial));
        var type = (await cluster.SalesAsync("huge-grant")).TicketTypes[0];
        Assert.Equal((7L, 7L), (type.Capacity, type.Remaining));
    }
}
