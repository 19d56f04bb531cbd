using System.Data;
using System.Data.Common;
using OrleansTickets.Events;

namespace OrleansTickets.Storage;

/// <summary>
/// Claims: an activation of a shard takes its row by raising the epoch, which fences every commit of an older
/// activation, and reads the durable counts it starts from.
/// </summary>
public sealed partial class ShardDatabase
{
    /// <summary>
    /// The isolation of claims and group commits, whatever the database's default. Fencing relies on it: a commit that
    /// waited on a newer activation's claim re-reads the row after the wait and matches nothing (fenced). Under
    /// REPEATABLE READ or SERIALIZABLE it would fail with a serialization error instead, and the stale activation,
    /// taking that for an outage, would reload and claim the shard back from the newer one.
    /// </summary>
    private const IsolationLevel FencingIsolation = IsolationLevel.ReadCommitted;

    /// <summary>
    /// Bumps the shard's epoch (creating its row only on a first claim of a shard the database has no trace of) and returns the new epoch and the durable sold count.
    /// An activation claiming again (<paramref name="heldEpoch"/> above 0) bumps only the epoch it holds, and gets
    /// <see cref="ShardClaimLostException"/> when a newer activation claimed the shard since.
    /// </summary>
    public async Task<ClaimedRow> ClaimAsync(ShardAddress shard, SerialBlock block, long heldEpoch, CancellationToken cancellationToken)
    {
        if (_sqliteWriter is not null)
        {
            var item = new ClaimItem(shard, block, heldEpoch);
            if (!Enqueue(item)) throw new ObjectDisposedException(nameof(ShardDatabase));
            return await item.Task;
        }
        await EnsureReadyAsync(cancellationToken);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(FencingIsolation, cancellationToken);
        await using var claim = new SqlStatement(_sql.Claim)
            .With("@shard_key", shard.Key).With("@block_first", block.First).With("@block_size", (long)block.Size)
            .With("@segments", InitialSegments(block)).With("@held_epoch", heldEpoch)
            .With("@event_id", shard.EventId).With("@ticket_type_id", shard.TicketTypeId).With("@stamp", (object?)Stamp ?? DBNull.Value)
            .ToCommand(connection, transaction);
        ClaimedRow result;
        await using (var reader = await claim.ExecuteReaderAsync(cancellationToken))
        {
            // SQL Server's claim may answer in its second result set (first use of the row).
            while (!await reader.ReadAsync(cancellationToken))
            {
                if (!await reader.NextResultAsync(cancellationToken)) throw NoClaimedRow(shard, heldEpoch);
            }
            result = ReadClaim(reader, shard, block);
        }
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// A claim that returned no row. Every claim requires the stamp this silo checked (<see cref="Stamp"/>), and a first
    /// claim inserts a row only where the database holds no trace of the shard (a sold ticket of its block, a gift it
    /// made or received), so for a first claim it means the database was lost and made again, swapped for another, or
    /// the shard's row was deleted from it. A claim again (<paramref name="heldEpoch"/> above 0) returns none when a newer
    /// activation holds the shard, when the row is gone, or when the database is no longer the one checked: in every case
    /// this activation no longer holds it, and a first claim by the next one says which.
    /// </summary>
    internal static InvalidOperationException NoClaimedRow(ShardAddress shard, long heldEpoch) =>
        heldEpoch > 0
            ? new ShardClaimLostException(shard.Key, heldEpoch)
            : new InvalidOperationException($"Claim of {shard.Key} returned no row: its database has no identity stamp, or not the one " +
                "this silo checked (lost and made again, or swapped?), or it holds sold tickets or gifts of the shard but not the shard's " +
                "row (deleted?).");

    /// <summary>A new shard's inventory: exactly its block.</summary>
    internal static string InitialSegments(SerialBlock block) =>
        SegmentText.Format([new Inventory.SerialSegment(block.First, block.Size)]);

    /// <summary>Reads a claim's row (epoch, sold, block_first, block_size, capacity, segments, retired) and checks the block against the catalog.</summary>
    internal static ClaimedRow ReadClaim(DbDataReader reader, ShardAddress shard, SerialBlock block)
    {
        var first = Convert.ToInt64(reader.GetValue(2));
        var size = Convert.ToInt64(reader.GetValue(3));
        if (first != block.First || size != block.Size)
        {
            throw new InvalidOperationException(
                $"Shard {shard.Key} is stored with block {first}+{size} but the catalog says {block.First}+{block.Size}.");
        }
        return new ClaimedRow(
            Convert.ToInt64(reader.GetValue(0)), Convert.ToInt64(reader.GetValue(1)), Convert.ToInt64(reader.GetValue(4)),
            reader.GetString(5), Convert.ToInt64(reader.GetValue(6)) != 0);
    }
}
