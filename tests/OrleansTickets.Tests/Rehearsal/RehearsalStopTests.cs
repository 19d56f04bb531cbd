using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansTickets.Silo.Rehearsal;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Rehearsal;

/// <summary>
/// The real silo starts only after the rehearsal copy has stopped, so the copy's stop is bounded even when a part of
/// it ignores the stop's token: the host waits for every part's stop, and the real silo would never open.
/// </summary>
[RunsLong]
public sealed class RehearsalStopTests
{
    [Fact]
    public async Task A_copy_with_a_part_that_never_stops_is_given_up_on_and_says_so()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var scratch = ScratchStorage.For(new TicketStorageOptions());
        try
        {
            var copy = await RehearsalSilo.StartAsync(new ConfigurationBuilder().Build(), scratch.Settings,
                () => (FreePort.Next(), FreePort.Next()), limit.Token,
                new RehearsalCopyParts(copy => copy.AddHostedService(_ => new NeverStopping(release.Task))));

            var clock = Stopwatch.StartNew();
            // The test's own bound, past the copy's: a copy that waited for the part would fail here, not hang the run.
            var stop = await Assert.ThrowsAsync<TimeoutException>(() => copy.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(45)));

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"The copy's stop took {clock.Elapsed.TotalSeconds:0.0} s ({stop.Message}).");
        }
        finally
        {
            release.TrySetResult();
            await scratch.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_silo_whose_rehearsal_copy_never_stops_keeps_the_rehearsals_outcome_says_so_and_opens()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new WarningCollector();
        using var storage = TestStorage.Sqlite();
        var scratch = Directory.CreateTempSubdirectory("orleans-tickets-scratch-");
        try
        {
            await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
            {
                ["Rehearsal:Enabled"] = "true",
                ["Rehearsal:Tickets"] = "1000",
                ["Rehearsal:Buyers"] = "16",
                ["Rehearsal:ScratchPath"] = scratch.FullName,
                ["Rehearsal:SettleSeconds"] = "1",
            }, services => services
                .AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log)
                .AddSingleton(new RehearsalCopyParts(copy => copy.AddHostedService(_ => new NeverStopping(release.Task)))));

            // The sales were exact, so the rehearsal counts as done: only its copy was left behind.
            var report = host.Services.GetRequiredService<RehearsalReport>();
            Assert.True(report.Status == RehearsalStatus.Rehearsed, $"{report.Status} after {report.Elapsed}, {report.Stage}");
            Assert.True(log.Saw("left behind"), string.Join(Environment.NewLine, log.Lines));
            Assert.Equal(System.Net.HttpStatusCode.OK, (await host.Client.GetAsync("/health/ready")).StatusCode);
        }
        finally
        {
            release.TrySetResult();
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>A part whose stop ends only when the test lets it, whatever the stop's token says.</summary>
    private sealed class NeverStopping(Task release) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => release;
    }
}
