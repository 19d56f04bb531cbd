using OrleansTickets.Sales;

namespace OrleansTickets.Inventory;

/// <summary>Settling: a dispatcher whose buyers wait on tickets reserved here hears as soon as their commit ends.</summary>
/// <remarks>
/// <para>
/// Why: at the end of a type's sale a buyer can find every unsold ticket reserved by commits in flight. Its dispatcher
/// may neither sell them nor call the type sold out, so it waited a fixed pause (10 to 40 ms) and asked every shard
/// of the type again. The commits usually land sooner than that, and the paused buyers were the slowest answers of a
/// sale (docs/benchmarks.md, sixty-fourth session). Now the dispatcher asks the shards holding the reservations for
/// their sales once the commit that takes them has ended, and looks again as soon as they answer.
/// </para>
/// <para>
/// Which commit: a cycle takes everything queued when it starts, in the turn it starts. So a caller that finds a cycle
/// running and nothing queued waits for that cycle's end; one that finds sales or changes queued waits for the end of
/// the next cycle, which takes them. Tickets held for a forward (InventoryShardGrain.Holds.cs) are in no queue until
/// their order comes, and the next cycle after the question takes that order. The wait is bounded by the caller: a hold
/// whose order never comes, or a gift still being asked about, commits nothing.
/// </para>
/// <para>
/// Turns: the reentrant grain runs the cycle's turns and these calls' turns one at a time, so the two fields below
/// change only between awaits. The waiters' tasks run their continuations asynchronously: the cycle's last turn
/// completes them and the callers' reports are read in turns of their own, after the cycle's state is set.
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    // Callers waiting for the running cycle to end, and for the end of the cycle that starts next.
    private TaskCompletionSource? _endOfRunningCycle;
    private TaskCompletionSource? _endOfNextCycle;
    private bool _cycleRunning;

    /// <inheritdoc />
    public async Task<ShardSales> GetSalesAfterCommit(TimeSpan longest)
    {
        if (_pendingQuantity > 0 && longest > TimeSpan.Zero)
        {
            var ended = _cycleRunning && _queue.Count == 0 && _changes.Count == 0
                ? (_endOfRunningCycle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task
                : (_endOfNextCycle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            await Task.WhenAny(ended, Task.Delay(longest, clock));
        }
        return await GetSales();
    }

    /// <summary>One commit cycle (<see cref="CommitCycleAsync"/>), then the callers waiting for its end.</summary>
    private async Task CommitCycleThenAnswerWaitersAsync()
    {
        // In the turn the cycle takes its queue: whoever asked before this waits for this cycle.
        _endOfRunningCycle = _endOfNextCycle;
        _endOfNextCycle = null;
        _cycleRunning = true;
        try
        {
            await CommitCycleAsync();
        }
        finally
        {
            _cycleRunning = false;
            var ended = _endOfRunningCycle;
            _endOfRunningCycle = null;
            ended?.TrySetResult();
        }
    }
}
