using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Metadata;
using Orleans.Placement.Rebalancing;

namespace OrleansTickets.Hosting;

/// <summary>
/// Repeats Orleans' request that the activation rebalancer's worker grain migrate off a stopping silo until the worker
/// hears it, so that a stop does not wait out its whole budget for a worker that ignored the first request.
/// </summary>
/// <remarks>
/// When a silo stops, Orleans 10.4.2 (since dotnet/orleans#10573) asks a rebalancer worker living on it to migrate,
/// then waits for that activation to deactivate, bounded only by the stop's token (90 s here). An activation still
/// registering in the grain directory ignores a request to migrate (Orleans migrates only activating, active or
/// deactivating ones), goes on to become active, and is never deactivated: the stop then hung for the full 90 s. The
/// worker is in that state for a moment after a silo's first rebalancer report creates it (2 of 20 start-and-stop
/// cycles hit it), and on a silo that another silo, stopping at the same time, has just handed it to.
/// <para>
/// This sees each worker activation this silo creates (a grain-context configurator, called before the activation
/// registers). In the hand-over's own stage, beside Orleans, it asks the latest one, and any created after the stage
/// began, to migrate every <see cref="AskEvery"/> until it deactivates. (Orleans looks for the worker in a turn of the
/// rebalancer's monitor, which may come after that monitor's first report has created one: a worker created a moment
/// after this stage began can still be the one Orleans waits for.) A request to an activation that already migrates
/// is a no-op, so the requests that overlap Orleans' own cost nothing, and a migration with no silo to go to
/// deactivates the worker as Orleans' own does. The wait is the one Orleans makes anyway, on the same token.
/// </para>
/// </remarks>
internal sealed partial class RebalancerHandoffOnStop(IGrainFactory grains, ILogger<RebalancerHandoffOnStop> logger)
    : ILifecycleParticipant<ISiloLifecycle>, IConfigureGrainContextProvider, IConfigureGrainContext
{
    /// <summary>A worker that has finished registering migrates in milliseconds.</summary>
    private static readonly TimeSpan AskEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Orleans' worker interface is internal, so it is found by its full name. A rename or a move to another namespace
    /// turns this class off (with a warning at each stop), and the test of a worker registering at the hand-over fails.
    /// </summary>
    private static readonly Type? WorkerInterface =
        typeof(IActivationRebalancer).Assembly.GetType("Orleans.Placement.Rebalancing.IActivationRebalancerWorker");

    /// <summary>The worker's grain type once looked up; a box holding null when the lookup failed.</summary>
    private StrongBox<GrainType?>? _workerType;
    private IGrainContext? _latestWorker;

    /// <summary>Set once this silo's hand-over stage has begun, to the stop's token.</summary>
    private StrongBox<CancellationToken>? _handOver;

    public void Participate(ISiloLifecycle lifecycle) =>
        // Orleans' hand-over stops at BecomeActive too; the participants of one stage stop together.
        lifecycle.Subscribe(nameof(RebalancerHandoffOnStop), ServiceLifecycleStage.BecomeActive, _ => Task.CompletedTask, HandOverAsync);

    /// <summary>Asked once per grain type, on the first activation of that type on this silo.</summary>
    public bool TryGetConfigurator(GrainType grainType, GrainProperties properties, [NotNullWhen(true)] out IConfigureGrainContext? configurator)
    {
        configurator = WorkerType() is { } worker && grainType.Equals(worker) ? this : null;
        return configurator is not null;
    }

    /// <summary>Called for each worker activation this silo creates, before it registers.</summary>
    public void Configure(IGrainContext context)
    {
        // Each side writes, then reads the other's field, so one of them sees both: a worker created as the stop's
        // hand-over begins (the monitor's first report may be doing so) is asked by at least one of them.
        Interlocked.Exchange(ref _latestWorker, context);
        // A worker that has gone needs no asking, and is not kept in memory for the silo's life.
        context.Deactivated.ContinueWith(
            _ => Interlocked.CompareExchange(ref _latestWorker, null, context), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (Volatile.Read(ref _handOver) is { } stopping)
        {
            // Off the activation path, and without the creating call's request context or trace.
            using (ExecutionContext.SuppressFlow())
            {
                _ = Task.Run(() => AskUntilGoneAsync(context, stopping.Value), CancellationToken.None);
            }
        }
    }

    // Looked up once, through the silo's grain manifest, and boxed so that activations on other threads never read
    // half a value. A failure is logged once and must not fail the activation whose first appearance asked.
    private GrainType? WorkerType()
    {
        if (Volatile.Read(ref _workerType) is { } known)
        {
            return known.Value;
        }
        if (WorkerInterface is null)
        {
            return null;
        }
        GrainType? type = null;
        try
        {
            type = grains.GetGrain(WorkerInterface, 0L).GetGrainId().Type;
        }
        catch (Exception exception)
        {
            LogWorkerTypeUnknown(logger, exception);
        }
        Volatile.Write(ref _workerType, new StrongBox<GrainType?>(type));
        return type;
    }

    private async Task HandOverAsync(CancellationToken stopping)
    {
        if (WorkerInterface is null)
        {
            LogWorkerInterfaceMissing(logger);
            return;
        }
        Interlocked.Exchange(ref _handOver, new StrongBox<CancellationToken>(stopping));
        if (Volatile.Read(ref _latestWorker) is { } worker)
        {
            await AskUntilGoneAsync(worker, stopping);
        }
    }

    private async Task AskUntilGoneAsync(IGrainContext worker, CancellationToken stopping)
    {
        var started = Stopwatch.GetTimestamp();
        var asked = 0;
        try
        {
            while (!worker.Deactivated.IsCompleted && !stopping.IsCancellationRequested)
            {
                // Ignored while the activation still registers; heard once it has, as Orleans' own request would be.
                worker.Migrate(requestContext: null, stopping);
                asked++;
                await Task.WhenAny(worker.Deactivated, Task.Delay(AskEvery, stopping));
            }
        }
        catch (Exception exception)
        {
            // Nothing awaits the loop started for a worker created during the stop, so its failure is said here.
            LogAskingFailed(logger, exception);
            return;
        }
        if (asked > 1)
        {
            LogWorkerAskedAgain(logger, asked, Stopwatch.GetElapsedTime(started));
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "The activation rebalancer's worker on this stopping silo was asked to migrate {Asked} times before it left, after {Elapsed}")]
    private static partial void LogWorkerAskedAgain(ILogger logger, int asked, TimeSpan elapsed);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The grain type of Orleans' rebalancer worker could not be resolved; a stop may wait for the worker's hand-over until its budget runs out")]
    private static partial void LogWorkerTypeUnknown(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Orleans' rebalancer worker interface was not found; a stop may wait for the worker's hand-over until its budget runs out")]
    private static partial void LogWorkerInterfaceMissing(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Asking the activation rebalancer's worker to migrate off this stopping silo failed; the stop may wait for its hand-over")]
    private static partial void LogAskingFailed(ILogger logger, Exception exception);
}
