using System.Data.Common;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Storage;

/// <summary>
/// One shard's view of its database: claim the shard (taking a new epoch), commit batches under that epoch,
/// and read orders back.
/// </summary>
/// <remarks>
/// Fencing: <see cref="ClaimAsync"/> increments the shard's epoch in the database. Every later commit succeeds
/// only if the row still carries that epoch and the sold count the activation believes in, so when Orleans briefly
/// runs two activations of one shard, the one that claimed first can no longer write.
/// </remarks>
public sealed class ShardLedger(ShardDatabase database, ShardAddress shard)
{
    /// <summary>The epoch this ledger claimed, or 0 before <see cref="ClaimAsync"/>.</summary>
    public long Epoch { get; private set; }

    /// <summary>Takes ownership of the shard's row and loads what the shard needs to resume selling.</summary>
    /// <remarks>
    /// The first claim takes the shard from whoever held it. A claim again (a reload) keeps it only if this ledger still
    /// holds it, and throws <see cref="ShardClaimLostException"/> otherwise: a stale activation never takes the shard back.
    /// Either throws it too when a newer activation claims the shard while this claim reads its transfers.
    /// </remarks>
    public async Task<ShardClaim> ClaimAsync(SerialBlock block, CancellationToken cancellationToken = default) =>
        await ReadClaimAsync(await ClaimRowAsync(block, cancellationToken), cancellationToken);

    /// <summary>The claim itself: takes a new epoch and returns the row as the claim left it.</summary>
    internal async Task<ClaimedRow> ClaimRowAsync(SerialBlock block, CancellationToken cancellationToken = default)
    {
        var row = await database.ClaimAsync(shard, block, Epoch, cancellationToken);
        // Held from here, not after the reads that follow: the claim is committed, and if a read fails (a database
        // blinking, when reloads happen) the next reload must claim from this epoch, or it would find its own claim
        // "newer" and stop a shard no other activation holds.
        Epoch = row.Epoch;
        return row;
    }

    /// <summary>
    /// Reads the transfers and refusals that go with <paramref name="row"/>, then checks that no newer activation
    /// claimed the shard meanwhile (<see cref="ShardClaimLostException"/> if one did).
    /// </summary>
    /// <remarks>
    /// The row and these reads are separate statements, so they could see two states of the shard: a newer activation
    /// that claimed in between and took a gift in would put the gift among this claim's take-ins but not in its row's
    /// capacity, and the shard would report fewer unsold tickets than it has (a "sold out" given too soon). Every write
    /// under a newer claim comes after that claim, so an epoch still this ledger's after the reads means none of them
    /// saw a write the row did not.
    /// </remarks>
    internal async Task<ShardClaim> ReadClaimAsync(ClaimedRow row, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var undelivered = await ReadAllAsync(connection, ShardSql.ReadUndelivered,
            r => new OutgoingTransfer(r.GetString(1), new TicketTransfer(r.GetString(0), shard.Key, SegmentText.Parse(r.GetString(2)))),
            cancellationToken);
        var takenIn = await ReadAllAsync(connection, ShardSql.ReadTakenIn,
            r => (Id: r.GetString(0), FromShard: r.GetString(1) != TicketTransfer.CapacityDonor, Quantity: Convert.ToInt64(r.GetValue(2))),
            cancellationToken);
        var settled = (await ReadAllAsync(connection, ShardSql.ReadSettled, r => Convert.ToInt64(r.GetValue(0)), cancellationToken)).Single();
        var refused = await ReadAllAsync(connection, ShardSql.ReadRefused, r => r.GetString(0), cancellationToken);
        var epochs = await ReadAllAsync(connection, ShardSql.ReadFence, r => Convert.ToInt64(r.GetValue(0)), cancellationToken);
        if (epochs is not [var epoch] || epoch != row.Epoch) throw new ShardClaimLostException(shard.Key, row.Epoch);
        return new ShardClaim(row, undelivered, [.. takenIn.Select(t => t.Id)], refused,
            TakenInFromShards: takenIn.Where(t => t.FromShard).Sum(t => t.Quantity), Settled: settled,
            GrantedIn: takenIn.Where(t => !t.FromShard).Sum(t => t.Quantity));
    }

    private async Task<List<T>> ReadAllAsync<T>(
        DbConnection connection, string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        await using var read = new SqlStatement(sql).With("@shard_key", shard.Key).ToCommand(connection, null);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) rows.Add(map(reader));
        return rows;
    }

    /// <summary>Submits a batch to the database's group commit.</summary>
    public Task<CommitOutcome> CommitAsync(LedgerBatch batch) => database.CommitAsync(batch);

    /// <summary>The epoch the shard's row holds now, claimed by this ledger or another; null when it has no row.</summary>
    public Task<long?> ReadEpochAsync(CancellationToken cancellationToken = default) =>
        OnOneConnectionAsync((connection, _) => StoredEpochAsync(connection), cancellationToken);

    /// <summary>
    /// Reads key <paramref name="key"/> as <see cref="ReadKeyAsync"/> does, then the epoch the shard's row holds as
    /// <see cref="ReadEpochAsync"/> does, in that order, on one connection: a key's home about to answer "sold out" needs
    /// both, the epoch read after the key, and each open of a SQLite connection also sets its pragmas.
    /// </summary>
    public Task<(StoredKey? Key, long? Epoch)> ReadKeyThenEpochAsync(string key, CancellationToken cancellationToken = default) =>
        OnOneConnectionAsync(async (connection, cancellation) =>
            (await ShardDatabase.ReadKeyAsync(connection, shard.EventId, key, cancellation), await StoredEpochAsync(connection)),
            cancellationToken);

    /// <summary>Reads idempotency key <paramref name="key"/> of the shard's event, whichever shard holds it; null when the event has no such key.</summary>
    public Task<StoredKey?> ReadKeyAsync(string key, CancellationToken cancellationToken = default) =>
        OnOneConnectionAsync((connection, cancellation) => ShardDatabase.ReadKeyAsync(connection, shard.EventId, key, cancellation), cancellationToken);

    /// <summary>Reads an order this shard committed, or null, for the sale: a replay, a forward checked before it is sold.</summary>
    public Task<OrderDetails?> ReadOrderAsync(string orderId, CancellationToken cancellationToken = default) =>
        OnOneConnectionAsync((connection, cancellation) => ReadOrderAsync(connection, orderId, cancellation), cancellationToken);

    /// <summary>
    /// Reads an order this shard committed, or null, for its buyer's order page: one of the database's lookups
    /// (<see cref="ShardDatabase.LookUpAsync{T}"/>), which take at most half of its pool and leave the rest to the sale.
    /// </summary>
    public Task<OrderDetails?> LookUpOrderAsync(string orderId, CancellationToken cancellationToken = default) =>
        database.LookUpAsync((connection, cancellation) => ReadOrderAsync(connection, orderId, cancellation), cancellationToken);

    private static async Task<OrderDetails?> ReadOrderAsync(DbConnection connection, string orderId, CancellationToken cancellationToken)
    {
        OrderDetails order;
        IReadOnlyList<SerialSegment> serials;
        await using (var read = new SqlStatement(ShardSql.ReadOrder)
            .With("@order_key", OrderId.KeyOf(orderId)).With("@order_id", orderId).ToCommand(connection, null))
        await using (var reader = await read.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken)) return null;
            (order, serials) = StoredOrders.FromRow(reader);
        }
        return await StoredOrders.WithTicketsAsync(connection, order, serials, cancellationToken);
    }

    /// <summary>Counts ticket rows held for this shard: an independent check of the stored sold count.</summary>
    public Task<long> CountTicketRowsAsync(CancellationToken cancellationToken = default) =>
        OnOneConnectionAsync(async (connection, cancellation) =>
        {
            await using var count = new SqlStatement(ShardSql.CountSoldTickets).With("@shard_key", shard.Key).ToCommand(connection, null);
            return Convert.ToInt64(await count.ExecuteScalarAsync(cancellation));
        }, cancellationToken);

    private async Task<long?> StoredEpochAsync(DbConnection connection) =>
        await ShardDatabase.ReadFenceAsync(connection, shard.Key) is { } row ? row.Epoch : null;

    /// <summary>Runs <paramref name="read"/> on one connection of the shard's database, once the database is ready.</summary>
    private async Task<T> OnOneConnectionAsync<T>(Func<DbConnection, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        await database.EnsureReadyAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await read(connection, cancellationToken);
    }
}
