using Microsoft.Extensions.Options;
using OrleansTickets.Events;
using OrleansTickets.Storage;

namespace OrleansTickets.Catalog;

/// <summary>
/// Round-robin shard map: while fewer shards exist than <see cref="TicketStorageOptions.MaxShardDatabases"/>,
/// each gets a database of its own; after that they share, spread evenly.
/// </summary>
/// <remarks>
/// Invariant: ordinals already handed out never change, because they are stored in each event's state; changing
/// the configured maximum only affects events created later. Non-reentrant, so two events created at once
/// read and advance the counter one after the other.
/// </remarks>
public sealed class ShardDatabaseAllocatorGrain(
    [PersistentState("allocator", StorageNames.Catalog)] IPersistentState<AllocatorState> state,
    IOptions<TicketStorageOptions> options) : Grain, IShardDatabaseAllocatorGrain
{
    /// <inheritdoc />
    public async Task<int[]> Allocate(int count)
    {
        var max = options.Value.MaxShardDatabases;
        var first = state.State.Next;
        var ordinals = new int[count];
        for (var i = 0; i < count; i++) ordinals[i] = (int)((first + i) % max);
        state.State.Next = first + count;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // Not known to be stored: memory must not run ahead of storage (the next event would skip databases), and
            // if the write landed after all, the version held here is stale. Either way a fresh activation reads
            // what storage holds.
            state.State.Next = first;
            this.DeactivateOnIdle();
            throw;
        }
        return ordinals;
    }
}
