using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansTickets.LoadGenerator;
using OrleansTickets.LoadGenerator.Bare;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The HTTP floor run reports what each request cost both processes, over the measured span only.</summary>
/// <remarks>
/// Alone (<see cref="CpuReadingCollection"/>): the first test compares two readings of this process's CPU taken a
/// moment apart, and the rest of the suite running beside it on both cores could pass the slack between them.
/// </remarks>
[Collection(CpuReadingCollection.Name)]
public sealed class BareRunTests
{
    [Fact]
    public async Task With_the_server_pid_a_bare_run_reports_both_sides_cpu_over_the_same_span()
    {
        // The endpoint lives in this process, so "server" and client are the same process here: both readings cover
        // the measured second and must agree, apart from /proc's clock ticks.
        var summary = await RunAgainstLocalEndpointAsync(servicePid: Environment.ProcessId);

        Assert.True(summary.Requests > 0 && summary.Errors == 0, $"{summary.Requests} requests, {summary.Errors} errors");
        Assert.True(summary.ClientCpuSeconds > 0, $"client {summary.ClientCpuSeconds}");
        Assert.NotNull(summary.ServerCpuSeconds);
        // The two are read a moment apart by different clocks, while the rest of the suite runs in this process on
        // both cores: 0.15 s of slack, against the seconds a reading over the wrong span would be off by.
        Assert.InRange(summary.ServerCpuSeconds.Value, summary.ClientCpuSeconds - 0.15, summary.ClientCpuSeconds + 0.15);
    }

    [Fact]
    public async Task The_server_cpu_is_read_from_the_process_named_not_from_the_run_itself()
    {
        // An idle process of its own: its CPU over the run is about nothing, while the run (client and endpoint, both
        // in this process) works. A run that read its own process would report the two alike.
        using var idle = System.Diagnostics.Process.Start("sleep", "60");
        try
        {
            var summary = await RunAgainstLocalEndpointAsync(servicePid: idle.Id);

            Assert.True(summary.ClientCpuSeconds > 0.1, $"client {summary.ClientCpuSeconds}");
            Assert.NotNull(summary.ServerCpuSeconds);
            Assert.InRange(summary.ServerCpuSeconds.Value, 0, 0.02);
        }
        finally
        {
            idle.Kill();
        }
    }

    [Fact]
    public async Task Without_a_server_pid_only_the_client_cpu_is_reported()
    {
        var summary = await RunAgainstLocalEndpointAsync(servicePid: null);

        Assert.True(summary.ClientCpuSeconds > 0);
        Assert.Null(summary.ServerCpuSeconds);
    }

    private static async Task<BareRunSummary> RunAgainstLocalEndpointAsync(int? servicePid)
    {
        await using var endpoint = await StandInEndpoint.StartAsync(app =>
            app.MapPost("/bare/orders", () => Results.Created("/bare/orders/1", "{}")));
        var json = Path.Combine(Path.GetTempPath(), $"bare-run-{Guid.NewGuid():N}.json");
        try
        {
            string[] args = ["--mode", "bare", "--url", endpoint.Address, "--duration", "1", "--connections", "4", "--summary-json", json];
            if (servicePid is { } pid) args = [.. args, "--service-pid", pid.ToString(CultureInfo.InvariantCulture)];

            Assert.Equal(ExitCodes.Passed, await BareRun.RunAsync(LoadOptionsParser.Parse(args)));

            await using var file = File.OpenRead(json);
            return (await System.Text.Json.JsonSerializer.DeserializeAsync(file, LoadJsonContext.Default.BareRunSummary))!;
        }
        finally
        {
            File.Delete(json);
        }
    }
}

/// <summary>Tests that read this process's CPU time twice and compare: run with no other test beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuReadingCollection
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "cpu readings";
}
