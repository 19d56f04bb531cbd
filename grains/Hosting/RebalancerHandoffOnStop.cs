using Microsoft.Extensions.Logging;
using Orleans.Placement.Rebalancing;

namespace OrleansTickets.Hosting;

/// <summary>
/// Makes sure the activation rebalancer's worker grain has finished activating before Orleans hands it over on a
/// silo's stop, so that a silo stopped moments after it started does not wait out its whole stop budget.
/// </summary>
/// <remarks>
/// When a silo stops, Orleans 10.4.2 (since dotnet/orleans#10573) asks a rebalancer worker living on it to migrate,
/// then waits for that activation to deactivate, bounded only by the stop's token (90 s here). An activation still
/// registering in the grain directory ignores the request to migrate (Orleans migrates only activating, active or
/// deactivating ones), goes on to become active, and is never deactivated: the stop then hangs for the full 90 s. A
/// silo's first rebalancer report creates the worker, so this hit about one stop in ten within a second of a start (2
/// of 20 start-and-stop cycles, and the tests of a second cluster). Asking the worker for a report in the stage Orleans
/// stops before its hand-over waits until that activation is active, so the request to migrate then finds it so. The
/// question is bounded: past it, the stop goes on exactly as Orleans alone would. Not covered: a worker that arrives on
/// this silo after that stage, handed over by another silo stopping at the same moment, and still registering when
/// this silo's own hand-over asks it to migrate.
/// </remarks>
internal sealed partial class RebalancerHandoffOnStop(IActivationRebalancer rebalancer, ILogger<RebalancerHandoffOnStop> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>A worker finishes activating in milliseconds; one that has not after this will not soon.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    public void Participate(ISiloLifecycle lifecycle) =>
        // Stages stop from the highest down: Active stops before the hand-over (at GrainDeactivation + 1).
        lifecycle.Subscribe(nameof(RebalancerHandoffOnStop), ServiceLifecycleStage.Active, _ => Task.CompletedTask, SettleWorkerAsync);

    private async Task SettleWorkerAsync(CancellationToken stopping)
    {
        try
        {
            // Orleans answers from the worker itself when forced, and logs and swallows a failed call.
            await rebalancer.GetRebalancingReport(force: true).AsTask().WaitAsync(Bound, stopping);
        }
        catch (TimeoutException)
        {
            LogWorkerSilent(logger, Bound);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The stop's budget is spent; Orleans' own hand-over skips itself on a cancelled token.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The activation rebalancer's worker did not answer within {Bound} during this silo's stop; the stop may wait for its hand-over.")]
    private static partial void LogWorkerSilent(ILogger logger, TimeSpan bound);
}
