using System.Data.Common;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Npgsql;
using OrleansTickets.LoadGenerator;
using OrleansTickets.LoadGenerator.Audit;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// Audit mode reads a real service's shard databases (SQLite files or PostgreSQL databases) and finds a sold-out sale
/// whole; a ticket row taken out of a database behind the service's back is found missing.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerReaderTests(PostgresFixture postgres) : IDisposable
{
    private readonly string _orders = Path.Combine(Path.GetTempPath(), $"audit-{Guid.NewGuid():N}.jsonl");

    public void Dispose() => File.Delete(_orders);

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_sold_out_sale_passes_the_audit_until_a_ticket_row_goes_missing(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var host = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("audited", capacity: 9, shards: 2)).StatusCode);
        var bodies = new List<string>();
        // Pairs while two are left, then one: every order is answered 201 until the type is sold out.
        for (var attempt = 0; await host.Client.SoldAsync("audited") is var sold && sold < 9; attempt++)
        {
            Assert.True(attempt < 20, $"{sold} of 9 sold after {attempt} orders");
            using var response = await host.Client.OrderAsync("audited", sold <= 7 ? 2 : 1, key: $"buyer-{attempt}", name: $"Buyer {attempt}");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            bodies.Add(await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(9L, await host.Client.SoldAsync("audited"));
        await File.WriteAllLinesAsync(_orders, bodies);

        string[] audit = ["--mode", "audit", "--url", host.Client.BaseAddress!.ToString(), "--event", "audited", "--orders-file", _orders,
            .. engine == Engines.Postgres
                ? new[] { "--postgres", storage.Settings["Storage:ConnectionString"]! }
                : ["--sqlite-data", storage.Folder!]];
        Assert.Equal(ExitCodes.Passed, await AuditRun.RunAsync(LoadOptionsParser.Parse(audit)));

        // Both shards' databases were read: an audit of one would have found the other's orders missing above.
        var ledger = engine == Engines.Postgres
            ? await LedgerReader.ReadPostgresAsync(storage.Settings["Storage:ConnectionString"]!, "audited", CancellationToken.None)
            : await LedgerReader.ReadSqliteAsync(storage.Folder!, "audited", CancellationToken.None);
        Assert.Equal(9, ledger.Tickets.Count);
        var ticket = ledger.Tickets[0];
        await using (var connection = Connect(engine, storage, ticket.Database))
        {
            await connection.OpenAsync();
            await using var delete = connection.CreateCommand();
            delete.CommandText = $"DELETE FROM tickets WHERE event_id = 'audited' AND serial = {ticket.Serial}";
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }
        Assert.Equal(ExitCodes.CheckFailed, await AuditRun.RunAsync(LoadOptionsParser.Parse(audit)));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_data_folder_or_server_with_no_shard_databases_is_no_verdict(string engine)
    {
        var empty = Directory.CreateTempSubdirectory("audit-empty-").FullName;
        try
        {
            // A catalog database of its own: the server has no shard databases named after it.
            string[] ledger = engine == Engines.Postgres
                ? ["--postgres", await postgres.CreateDatabaseAsync("audit_empty")]
                : ["--sqlite-data", empty];
            await File.WriteAllTextAsync(_orders, "[]");
            // An event with nothing on sale and nothing exported, which an empty ledger would agree with on every count.
            await using var service = await StandInEndpoint.StartAsync(app =>
            {
                app.MapGet("/api/events/festival/sales", () => Results.Content("""{"eventId":"festival","ticketTypes":[]}""", "application/json"));
                app.MapGet("/api/events/festival/orders", () => Results.Content("""{"eventId":"festival","orders":[],"next":null}""", "application/json"));
            });

            // A wrong path is no verdict, not an empty ledger that passes.
            Assert.Equal(ExitCodes.CouldNotFinish, await AuditRun.RunAsync(LoadOptionsParser.Parse(
                ["--mode", "audit", "--url", service.Address, "--orders-file", _orders, .. ledger])));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    private static DbConnection Connect(string engine, TestStorage storage, string database) => engine == Engines.Postgres
        ? new NpgsqlConnection(new NpgsqlConnectionStringBuilder(storage.Settings["Storage:ConnectionString"]) { Database = database }.ConnectionString)
        : new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ConnectionString);
}
