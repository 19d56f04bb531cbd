using OrleansTickets.Events;

namespace OrleansTickets.Storage;

/// <summary>Work queued for a shard database's writer: a batch to commit, or (SQLite) a shard claim.</summary>
/// <remarks>Items are completed only after the transaction that holds them has committed.</remarks>
internal abstract class WriterItem
{
    /// <summary>How much of a group commit this item uses up (orders, or 1).</summary>
    public abstract int Weight { get; }

    /// <summary>Reports the committed result to the waiting shard.</summary>
    public abstract void Complete();

    public abstract void Fail(Exception exception);
}

/// <summary>A shard's batch of orders and keys.</summary>
internal sealed class CommitItem(LedgerBatch batch) : WriterItem
{
    private readonly TaskCompletionSource<CommitOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LedgerBatch Batch { get; } = batch;

    public CommitOutcome Outcome { get; set; } = CommitOutcome.Committed;

    public Task<CommitOutcome> Task => _completion.Task;

    public override int Weight => Math.Max(1, Batch.Orders.Count);

    public override void Complete() => _completion.TrySetResult(Outcome);

    public override void Fail(Exception exception) => _completion.TrySetException(exception);
}

/// <summary>
/// A new activation claiming its shard row. On SQLite claims go through the writer, so hundreds of shards waking up
/// together share a few transactions instead of fighting the writer for the file lock.
/// </summary>
internal sealed class ClaimItem(ShardAddress shard, SerialBlock block, long heldEpoch) : WriterItem
{
    private readonly TaskCompletionSource<ClaimedRow> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ShardAddress Shard { get; } = shard;

    public SerialBlock Block { get; } = block;

    /// <summary>The epoch the claiming activation holds; 0 for its first claim (see <see cref="ShardDatabase.ClaimAsync"/>).</summary>
    public long HeldEpoch { get; } = heldEpoch;

    public ClaimedRow? Result { get; set; }

    /// <summary>Why this claim alone was refused (its row disagrees with the catalog); the rest of its group commits.</summary>
    public Exception? Refusal { get; set; }

    public Task<ClaimedRow> Task => _completion.Task;

    public override int Weight => 1;

    public override void Complete()
    {
        if (Refusal is not null) _completion.TrySetException(Refusal);
        else _completion.TrySetResult(Result!);
    }

    public override void Fail(Exception exception) => _completion.TrySetException(exception);
}
