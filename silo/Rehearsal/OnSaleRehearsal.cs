using System.Diagnostics;
using Microsoft.Extensions.Options;
using OrleansTickets.Storage;

namespace OrleansTickets.Silo.Rehearsal;

/// <summary>
/// Before the silo joins its cluster and starts listening, sells out a rehearsal event on a private copy of the service in this process,
/// over HTTP, with real durable writes to scratch storage that is deleted afterwards.
/// </summary>
/// <remarks>
/// Why: a cold .NET process spends the first seconds of an on-sale compiling its code (tier 0, then instrumented,
/// then optimized; docs/benchmarks.md measured a cold sale at about 1.6 times the steady state's CPU per order).
/// The JIT's work is per process, not per host, so a sale run here leaves the real silo's purchase path compiled
/// and optimized before the first real buyer arrives. It runs before the real silo starts, so no grain of the real
/// cluster is placed on a silo that is still busy rehearsing. Nothing of the rehearsal reaches the real catalog, shard
/// databases or signing key (<see cref="RehearsalSilo"/>, <see cref="ScratchStorage"/>).
/// A failed rehearsal is logged and the silo opens anyway, only colder: a warm-up must never keep the doors shut.
/// </remarks>
internal sealed partial class OnSaleRehearsal(
    IConfiguration configuration,
    IOptions<RehearsalOptions> options,
    IOptions<TicketStorageOptions> storage,
    RehearsalReport report,
    ILogger<OnSaleRehearsal> logger) : IHostedService
{
    /// <summary>Runs the rehearsal. The host starts the real silo and the web server only after this returns.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Enabled) return;
        if (!ScratchStorage.IsSupported(storage.Value))
        {
            LogUnsupported(logger, storage.Value.Provider);
            return;
        }

        LogStarting(logger, settings.Tickets, settings.Buyers);
        var clock = Stopwatch.StartNew();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            limit.CancelAfter(TimeSpan.FromSeconds(settings.TimeLimitSeconds));
            var scratch = ScratchStorage.For(storage.Value, settings.ScratchPath);
            RehearsalOutcome outcome;
            try
            {
                // The copy stops (and lets go of its connections) before the scratch storage is deleted.
                await using var silo = await RehearsalSilo.StartAsync(configuration, scratch.Settings, limit.Token);
                outcome = await new RehearsalCrowd(silo.Client).SellOutAsync(settings.Tickets, settings.Buyers, limit.Token);
            }
            finally
            {
                await DeleteAsync(scratch);
            }
            report.Outcome = outcome;
            report.Status = outcome.Exact ? RehearsalStatus.Rehearsed : RehearsalStatus.Inexact;
            var sold = clock.Elapsed;
            if (outcome.Exact) LogRehearsed(logger, outcome.Tickets, outcome.Orders, outcome.Rejected, sold.TotalSeconds);
            else LogInexact(logger, outcome.Tickets, outcome.Orders);
            var compiled = await JitSettling.WaitAsync(TimeSpan.FromSeconds(settings.SettleSeconds), cancellationToken);
            LogSettled(logger, compiled, (clock.Elapsed - sold).TotalSeconds);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Anything but the host shutting down: the silo opens, colder. A cancellation here is the time limit, or
            // a start-up of the copy that the limit cut short.
            if (limit.IsCancellationRequested)
            {
                report.Status = RehearsalStatus.TimedOut;
                LogTimedOut(logger, settings.TimeLimitSeconds);
            }
            else
            {
                report.Status = RehearsalStatus.Failed;
                LogFailed(logger, e, clock.Elapsed.TotalSeconds);
            }
        }
        report.Elapsed = clock.Elapsed;
    }

    private async Task DeleteAsync(ScratchStorage scratch)
    {
        try
        {
            await scratch.DisposeAsync();
        }
        catch (Exception e)
        {
            // Not a reason to stay shut: the scratch storage holds only rehearsal data, under a name no real event uses.
            LogScratchLeft(logger, e, scratch.Description);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Rehearsing the on-sale before opening: {Tickets} tickets, {Buyers} buyers, on scratch storage")]
    private static partial void LogStarting(ILogger logger, int tickets, int buyers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rehearsal sold out exactly: {Tickets} tickets in {Orders} orders ({Rejected} other answers) in {Seconds:F1} s")]
    private static partial void LogRehearsed(ILogger logger, long tickets, long orders, long rejected, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The JIT compiled {Methods} more methods in {Seconds:F1} s after the rehearsal; opening")]
    private static partial void LogSettled(ILogger logger, long methods, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Rehearsal sale did not add up: buyers were told of {Tickets} tickets in {Orders} orders, and the sales read back differ. Opening anyway; investigate before the on-sale")]
    private static partial void LogInexact(ILogger logger, long tickets, long orders);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rehearsal stopped at its {Limit} s limit; opening partly warm")]
    private static partial void LogTimedOut(ILogger logger, double limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rehearsal failed after {Seconds:F1} s; opening cold")]
    private static partial void LogFailed(ILogger logger, Exception exception, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The rehearsal's scratch storage could not be deleted; delete {Location} by hand")]
    private static partial void LogScratchLeft(ILogger logger, Exception exception, string location);

    [LoggerMessage(Level = LogLevel.Information, Message = "No rehearsal on {Provider}: scratch storage is only supported on SQLite and PostgreSQL")]
    private static partial void LogUnsupported(ILogger logger, SqlDialect provider);
}
