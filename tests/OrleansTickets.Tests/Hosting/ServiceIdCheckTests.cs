using System.Net;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Hosting;

/// <summary>
/// The catalog records the service id its grain state is filed under, and a silo with another refuses to start: under
/// it the events seem gone, and one created again would be placed afresh and sell its serials a second time.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ServiceIdCheckTests(PostgresFixture postgres)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_with_another_service_id_than_the_catalog_recorded_refuses_to_start(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using (var first = await ApiHost.StartAsync(storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("filed", capacity: 10, shards: 2)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await first.Client.OrderAsync("filed", 3, key: "before")).StatusCode);
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => ApiHost.StartAsync(storage,
            new Dictionary<string, string?> { ["Cluster:ServiceId"] = "another-service" }));
        Assert.Contains("'orleans-tickets'", error.ToString());

        // The recorded service id still starts, and finds what was sold.
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(3L, await again.Client.SoldAsync("filed"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_catalog_from_before_the_record_is_claimed_by_the_service_its_state_is_filed_under(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await CatalogFromBeforeTheRecordAsync(storage, "older");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => ApiHost.StartAsync(storage,
            new Dictionary<string, string?> { ["Cluster:ServiceId"] = "another-service" }));
        Assert.Contains("'orleans-tickets'", error.ToString());
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.OK, (await again.Client.GetAsync("/api/events/older")).StatusCode);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_catalog_from_before_the_record_with_state_under_several_other_ids_records_none_of_them(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await CatalogFromBeforeTheRecordAsync(storage, "several");
        // State under a second id too (an earlier start under a wrong one): which is the service's own is not for the
        // next silo to guess.
        await storage.ExecuteCatalogAsync(
            "INSERT INTO OrleansGrainState (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, ServiceId, PayloadBinary, Version) " +
            "SELECT GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString, 'a-wrong-start', PayloadBinary, Version " +
            "FROM OrleansGrainState WHERE ServiceId = 'orleans-tickets'");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => ApiHost.StartAsync(storage,
            new Dictionary<string, string?> { ["Cluster:ServiceId"] = "a-third-id" }));
        Assert.Contains("records none as its own", error.ToString());
        Assert.Contains("'a-wrong-start'", error.ToString());
        Assert.Contains("'orleans-tickets'", error.ToString());

        // Nothing was recorded: the service's own id still starts, and then is the record.
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.OK, (await again.Client.GetAsync("/api/events/several")).StatusCode);
    }

    /// <summary>A catalog with an event, as a build before the record left it: grain state, and no record of whose it is.</summary>
    private static async Task CatalogFromBeforeTheRecordAsync(TestStorage storage, string eventId)
    {
        await using (var first = await ApiHost.StartAsync(storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync(eventId, capacity: 10, shards: 2)).StatusCode);
        }
        await storage.ExecuteCatalogAsync("DROP TABLE ticketing_service");
    }
}
