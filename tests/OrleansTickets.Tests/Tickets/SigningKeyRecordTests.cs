using System.Net;
using System.Security.Cryptography;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Tickets;

/// <summary>
/// The catalog records the key its tickets are signed with, and a silo that would sign with another refuses to start:
/// tickets sold before would fail at the gates.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SigningKeyRecordTests(PostgresFixture postgres)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_configured_with_another_key_than_the_catalog_recorded_refuses_to_start(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using (var first = await ApiHost.StartAsync(storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("keyed", capacity: 10, shards: 1)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await first.Client.OrderAsync("keyed", 1, key: "before")).StatusCode);
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => ApiHost.StartAsync(storage,
            new Dictionary<string, string?> { ["Tickets:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) }));
        Assert.Contains("ticketing_signing_key", error.ToString());

        // The catalog's own key still starts, and what was sold is there.
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(1L, await again.Client.SoldAsync("keyed"));
    }

    [PostgresFact]
    public async Task On_PostgreSQL_a_key_file_left_behind_in_another_folder_is_not_made_again_silently()
    {
        // No configured key: the silo keeps one in its data folder, while its orders are on the server. Started from another
        // folder (a redeploy without the old one), it used to make a new key and sign with it.
        using var storage = Engines.Storage(Engines.Postgres, postgres);
        var first = Directory.CreateTempSubdirectory("orleans-tickets-key-a-");
        var second = Directory.CreateTempSubdirectory("orleans-tickets-key-b-");
        try
        {
            Dictionary<string, string?> FileKeyIn(DirectoryInfo folder) => new() { ["Tickets:SigningKey"] = null, ["Storage:DataPath"] = folder.FullName };
            await using (var host = await ApiHost.StartAsync(storage, FileKeyIn(first)))
            {
                Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("file-key", capacity: 10, shards: 1)).StatusCode);
                Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("file-key", 1, key: "signed")).StatusCode);
            }
            Assert.True(File.Exists(Path.Combine(first.FullName, "ticket-signing.key")));

            var error = await Assert.ThrowsAnyAsync<Exception>(() => ApiHost.StartAsync(storage, FileKeyIn(second)));
            Assert.Contains(Path.Combine(second.FullName, "ticket-signing.key"), error.ToString());

            // Its own folder back, it starts.
            await using var back = await ApiHost.StartAsync(storage, FileKeyIn(first));
            Assert.Equal(1L, await back.Client.SoldAsync("file-key"));
        }
        finally
        {
            first.Delete(recursive: true);
            second.Delete(recursive: true);
        }
    }
}
