using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrleansTickets.Silo.Rehearsal;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Rehearsal;

/// <summary>
/// The on-sale rehearsal a silo runs before it opens: a real sale over HTTP on scratch storage of the same engine,
/// which must leave nothing behind in the real catalog and shard databases, and must never keep the doors shut.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RehearsalTests(PostgresFixture postgres)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_sells_out_a_rehearsal_on_scratch_storage_and_opens_with_no_trace_of_it(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        var scratch = Directory.CreateTempSubdirectory("orleans-tickets-scratch-");
        try
        {
            await using var host = await ApiHost.StartAsync(storage, Rehearsal(scratch.FullName));

            var report = host.Services.GetRequiredService<RehearsalReport>();
            Assert.True(report.Status == RehearsalStatus.Rehearsed, $"{report.Status} after {report.Elapsed}, {report.Stage}");
            var outcome = report.Outcome;
            Assert.NotNull(outcome);
            Assert.True(outcome.Exact, $"the rehearsal's sale did not add up: {outcome}");
            // Two sales: the first of Rehearsal:Tickets, then one end pass of a tenth of that, at least 1,000.
            Assert.Equal(2_000, outcome.Tickets);
            Assert.True(outcome.Orders >= 500, $"{outcome.Orders} orders for 2,000 tickets of at most 4 each");

            // The scratch storage is gone, and the real storage never saw a shard database.
            Assert.Empty(scratch.EnumerateFileSystemInfos());
            if (engine == Engines.Sqlite)
            {
                Assert.False(Directory.Exists(Path.Combine(storage.Folder!, "shards")));
            }
            else
            {
                var catalog = new NpgsqlConnectionStringBuilder(storage.Options.ConnectionString).Database!;
                Assert.Equal([catalog], await postgres.Server.DatabasesStartingWithAsync(catalog));
            }

            // The real catalog has no rehearsal event, and a real event of the same name and type starts from nothing.
            await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync("/api/events/rehearsal"), HttpStatusCode.NotFound, "event-not-found");
            await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync("/api/events/rehearsal-2"), HttpStatusCode.NotFound, "event-not-found");
            var created = await host.Client.PostAsJsonAsync("/api/events", new
            {
                id = "rehearsal",
                name = "A real event that happens to share the name",
                ticketTypes = new[] { new { id = "general", name = "General", price = 10m, currency = "EUR", capacity = 5, shards = 1, maxPerOrder = 4 } },
            });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var order = await host.Client.OrderAsync("rehearsal", 2, key: "after-rehearsal", ticketTypeId: "general");
            Assert.Equal(HttpStatusCode.Created, order.StatusCode);
            var serials = (await order.JsonAsync()).GetProperty("tickets").EnumerateArray().Select(t => t.GetProperty("serial").GetInt64());
            Assert.Equal([1L, 2L], serials.Order());
            var general = (await (await host.Client.GetAsync("/api/events/rehearsal/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
            Assert.Equal((2L, 3L), (general.GetProperty("sold").GetInt64(), general.GetProperty("remaining").GetInt64()));
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_failed_rehearsal_is_reported_and_the_silo_opens_anyway()
    {
        using var storage = TestStorage.Sqlite();
        // A file where the scratch folder's parent should be: the rehearsal cannot create its storage.
        var blocker = Path.Combine(storage.Folder!, "not-a-folder");
        await File.WriteAllTextAsync(blocker, "");

        await using var host = await ApiHost.StartAsync(storage, Rehearsal(blocker));

        var report = host.Services.GetRequiredService<RehearsalReport>();
        Assert.Equal(RehearsalStatus.Failed, report.Status);
        Assert.Null(report.Outcome);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("opened-cold", capacity: 10, shards: 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("opened-cold", 1, key: "cold-1")).StatusCode);
    }

    [Theory]
    // Far more tickets than 4 s can sell on any machine (the project's best is about 33,000 a second, so 2,000,000 would
    // take a minute): the limit cuts the sale (or, on a slow machine, the copy's start).
    [InlineData("2000000", "4", "cut-short")]
    // Far shorter than the copy's start (a silo and a web server): the limit usually falls inside it, where Orleans
    // reports the cancelled start with an exception of its own and refuses to stop what never started. The limit is a
    // timer on the thread pool, so on a starved machine (the whole suite at once) it can fire after the start instead.
    [InlineData(null, "0.05", "cut-at-start")]
    public async Task A_rehearsal_cut_off_by_its_time_limit_is_reported_so_leaves_no_scratch_storage_and_the_silo_opens(
        string? tickets, string timeLimitSeconds, string eventId)
    {
        using var storage = TestStorage.Sqlite();
        var scratch = Directory.CreateTempSubdirectory("orleans-tickets-scratch-");
        try
        {
            var settings = Rehearsal(scratch.FullName);
            if (tickets is not null) settings["Rehearsal:Tickets"] = tickets;
            settings["Rehearsal:TimeLimitSeconds"] = timeLimitSeconds;
            await using var host = await ApiHost.StartAsync(storage, settings);

            var report = host.Services.GetRequiredService<RehearsalReport>();
            Assert.Equal(RehearsalStatus.TimedOut, report.Status);
            Assert.Null(report.Outcome);
            // The log line says where the limit fell: in the start, or in the first sale with its buyers' counts.
            Assert.Matches("^(starting its private silo|selling out sale 1; event rehearsal: [0-9]+ orders awaiting an answer \\(the oldest for [0-9.]+ s\\), [0-9]+ orders made, [0-9]+ other answers, of them [0-9]+ 503)", report.Stage);
            Assert.Empty(scratch.EnumerateFileSystemInfos());
            Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync(eventId, capacity: 10, shards: 1)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync(eventId, 1, key: "after-cut")).StatusCode);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_shipped_service_rehearses_before_it_listens()
    {
        using var storage = TestStorage.Sqlite();
        var scratch = Directory.CreateTempSubdirectory("orleans-tickets-scratch-");
        try
        {
            // Only the size and the scratch folder differ from the shipped appsettings.json, which turns it on.
            await using var silo = await SiloProcess.StartAsync(storage, new Dictionary<string, string?> { ["Rehearsal:ScratchPath"] = scratch.FullName });

            var output = silo.Output;
            var rehearsed = output.IndexOf("Rehearsal sale 1 sold out exactly: 1000 tickets", StringComparison.Ordinal);
            var endPass = output.IndexOf("Rehearsal sale 2 sold out exactly: 1000 tickets", StringComparison.Ordinal);
            var listening = output.IndexOf("Now listening on", StringComparison.Ordinal);
            Assert.True(rehearsed >= 0, "no rehearsal in the silo's log:\n" + output);
            Assert.True(endPass > rehearsed, "no end pass after the rehearsal's first sale in the silo's log:\n" + output);
            Assert.True(listening > endPass, "the silo listened before its rehearsal was over:\n" + output);
            Assert.Empty(scratch.EnumerateFileSystemInfos());
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_silo_stopped_while_it_rehearses_exits_cleanly_and_leaves_no_scratch_storage()
    {
        // An operator's Ctrl+C (or a supervisor's SIGTERM) before the silo opened: the start is cancelled, which the
        // host rethrew out of Run, and the process died with an unhandled exception (exit 134) instead of exiting.
        using var storage = TestStorage.Sqlite();
        var scratch = Directory.CreateTempSubdirectory("orleans-tickets-scratch-");
        try
        {
            await using var silo = SiloProcess.Launch(storage, new Dictionary<string, string?>
            {
                ["Rehearsal:ScratchPath"] = scratch.FullName,
                // Big enough to be still selling when the signal comes.
                ["Rehearsal:Tickets"] = "200000",
            });
            Assert.True(await silo.WaitForOutputAsync("Rehearsing the on-sale", TimeSpan.FromSeconds(120)), "no rehearsal began:\n" + silo.Output);

            var exitCode = await silo.TerminateAsync(TimeSpan.FromSeconds(60));

            Assert.True(exitCode == 0, $"exit code {exitCode?.ToString() ?? "none within 60 s"}:\n{silo.Output}");
            Assert.DoesNotContain("Unhandled exception", silo.Output);
            Assert.DoesNotContain("Now listening on", silo.Output);
            Assert.Empty(scratch.EnumerateFileSystemInfos());
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static Dictionary<string, string?> Rehearsal(string scratchPath) => new()
    {
        ["Rehearsal:Enabled"] = "true",
        ["Rehearsal:Tickets"] = "1000",
        ["Rehearsal:Buyers"] = "16",
        ["Rehearsal:ScratchPath"] = scratchPath,
        // Other test classes compile code in parallel, so the JIT never goes quiet here: do not wait for it long.
        ["Rehearsal:SettleSeconds"] = "1",
    };
}
