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
    ILogger<OnSaleRehearsal> logger,
    RehearsalCopyParts? copyParts = null) : IHostedService
{
    // Where the rehearsal is, for the log line when its time limit stops it: the start of its private silo, or a sale's crowd.
    private string _stage = "not started";
    private RehearsalCrowd? _crowd;

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

        await SweepLeftoversAsync(settings, cancellationToken);
        LogStarting(logger, settings.Tickets, settings.Buyers);
        var clock = Stopwatch.StartNew();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            limit.CancelAfter(TimeSpan.FromSeconds(settings.TimeLimitSeconds));
            var scratch = ScratchStorage.For(storage.Value, settings.ScratchPath);
            RehearsalOutcome outcome;
            long compiled;
            try
            {
                _stage = "starting its private silo";
                var silo = await RehearsalSilo.StartAsync(configuration, scratch.Settings, limit.Token, copyParts);
                try
                {
                    (outcome, compiled) = await SellOutAsync(silo.Client, settings, limit.Token);
                }
                finally
                {
                    // The copy stops (and lets go of its connections) before the scratch storage is deleted.
                    await StopCopyAsync(silo);
                }
            }
            finally
            {
                await DeleteAsync(scratch);
            }
            report.Outcome = outcome;
            report.Status = outcome.Exact ? RehearsalStatus.Rehearsed : RehearsalStatus.Inexact;
            if (!outcome.Exact) LogInexact(logger, outcome.Tickets, outcome.Orders);
            var settling = clock.Elapsed;
            compiled += await JitSettling.WaitAsync(TimeSpan.FromSeconds(settings.SettleSeconds), cancellationToken);
            LogSettled(logger, compiled, (clock.Elapsed - settling).TotalSeconds);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Anything but the host shutting down: the silo opens, colder. A cancellation here is the time limit, or
            // a start-up of the copy that the limit cut short. Any other exception is a failure, even when the limit
            // fired meanwhile (the other buyers ran on until it did, or the clean-up took that long): it is logged.
            if (e is OperationCanceledException && limit.IsCancellationRequested)
            {
                report.Status = RehearsalStatus.TimedOut;
                report.Stage = _crowd is { } crowd ? $"{_stage}; {crowd.Describe()}" : _stage;
                LogTimedOut(logger, settings.TimeLimitSeconds, report.Stage);
            }
            else
            {
                report.Status = RehearsalStatus.Failed;
                LogFailed(logger, e, clock.Elapsed.TotalSeconds);
            }
        }
        report.Elapsed = clock.Elapsed;
    }

    /// <summary>
    /// Sells out the first rehearsal event, then <see cref="RehearsalOptions.EndPasses"/> smaller ones, letting the JIT
    /// settle before each; returns what they sold together and the methods compiled while settling between them.
    /// </summary>
    /// <remarks>
    /// Why more than one sale: with dynamic PGO a method is promoted twice, after about 30 calls to an instrumented
    /// version and after about 30 more to optimized code. The end of a sale (gathering, transfers, forwards, sold-out
    /// verdicts) runs only in a sale's last second, and the compiler thread, behind on the busy cores, installs its
    /// instrumented versions after the load has stopped. A single rehearsal left about 850 such methods to be promoted,
    /// and their slower code to run, in the real sale's last seconds (docs/benchmarks.md, eighteenth
    /// session). A second, smaller sale of the same shape is mostly an end, and it runs that code past its second
    /// promotion before the doors open.
    /// </remarks>
    private async Task<(RehearsalOutcome Outcome, long Compiled)> SellOutAsync(HttpClient client, RehearsalOptions settings, CancellationToken cancellationToken)
    {
        var sale = Stopwatch.StartNew();
        var total = await SellOutAsync(new RehearsalCrowd(client, RehearsalCrowd.FirstEventId), 1, settings.Tickets, settings.Buyers, cancellationToken);
        if (total.Exact) LogRehearsed(logger, 1, total.Tickets, total.Orders, total.Rejected, sale.Elapsed.TotalSeconds);
        long compiled = 0;
        for (var pass = 2; pass <= 1 + settings.EndPasses; pass++)
        {
            compiled += await JitSettling.WaitAsync(TimeSpan.FromSeconds(settings.SettleSeconds), cancellationToken);
            sale.Restart();
            var tickets = Math.Max(RehearsalOptions.MinTickets, settings.Tickets / 10);
            var outcome = await SellOutAsync(new RehearsalCrowd(client, $"{RehearsalCrowd.FirstEventId}-{pass}"), pass, tickets, settings.Buyers, cancellationToken);
            if (outcome.Exact) LogRehearsed(logger, pass, outcome.Tickets, outcome.Orders, outcome.Rejected, sale.Elapsed.TotalSeconds);
            total = new RehearsalOutcome(total.Tickets + outcome.Tickets, total.Orders + outcome.Orders,
                total.Rejected + outcome.Rejected, total.Exact && outcome.Exact);
        }
        _crowd = null;
        _stage = "stopping its private silo";
        return (total, compiled);
    }

    private Task<RehearsalOutcome> SellOutAsync(RehearsalCrowd crowd, int pass, int tickets, int buyers, CancellationToken cancellationToken)
    {
        _stage = $"selling out sale {pass}";
        _crowd = crowd;
        return crowd.SellOutAsync(tickets, buyers, cancellationToken);
    }

    /// <summary>Deletes scratch storage earlier rehearsals left behind (a silo killed mid-rehearsal); never stops the start.</summary>
    private async Task SweepLeftoversAsync(RehearsalOptions settings, CancellationToken cancellationToken)
    {
        // Bounded: a silo added in the middle of a sale must not wait long on housekeeping.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            foreach (var leftover in await ScratchStorage.SweepLeftoversAsync(storage.Value, settings.ScratchPath, DateTimeOffset.UtcNow, limit.Token))
            {
                LogLeftoverSwept(logger, leftover);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogSweepFailed(logger, e);
        }
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

    /// <summary>
    /// Stops and disposes the copy. One that does not stop in time is left behind, said in the log: what its sales
    /// showed still stands, and so does the reason they ended (the time limit, say).
    /// </summary>
    private async Task StopCopyAsync(RehearsalSilo silo)
    {
        try
        {
            await silo.DisposeAsync();
        }
        catch (TimeoutException exception)
        {
            LogCopyLeftBehind(logger, exception);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The rehearsal's private copy did not stop in time and is left behind: it keeps its threads and loopback ports until the process ends; opening anyway")]
    private static partial void LogCopyLeftBehind(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted scratch storage an earlier rehearsal left behind: {Leftover}")]
    private static partial void LogLeftoverSwept(ILogger logger, string leftover);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not look for scratch storage earlier rehearsals left behind; rehearsing anyway")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rehearsing the on-sale before opening: {Tickets} tickets, {Buyers} buyers, on scratch storage")]
    private static partial void LogStarting(ILogger logger, int tickets, int buyers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rehearsal sale {Pass} sold out exactly: {Tickets} tickets in {Orders} orders ({Rejected} other answers) in {Seconds:F1} s")]
    private static partial void LogRehearsed(ILogger logger, int pass, long tickets, long orders, long rejected, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "The JIT compiled {Methods} more methods while settling after the rehearsal's sales ({Seconds:F1} s after the last); opening")]
    private static partial void LogSettled(ILogger logger, long methods, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Rehearsal sale did not add up: buyers were told of {Tickets} tickets in {Orders} orders, and the sales read back differ. Opening anyway; investigate before the on-sale")]
    private static partial void LogInexact(ILogger logger, long tickets, long orders);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rehearsal stopped at its {Limit} s limit while {Stage}; opening partly warm")]
    private static partial void LogTimedOut(ILogger logger, double limit, string stage);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rehearsal failed after {Seconds:F1} s; opening cold")]
    private static partial void LogFailed(ILogger logger, Exception exception, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The rehearsal's scratch storage could not be deleted; delete {Location} by hand")]
    private static partial void LogScratchLeft(ILogger logger, Exception exception, string location);

    [LoggerMessage(Level = LogLevel.Information, Message = "No rehearsal on {Provider}: scratch storage is only supported on SQLite and PostgreSQL")]
    private static partial void LogUnsupported(ILogger logger, SqlDialect provider);
}
