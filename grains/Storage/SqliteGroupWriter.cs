using Microsoft.Data.Sqlite;

namespace OrleansTickets.Storage;

/// <summary>
/// Commits groups of shard batches to one SQLite database on a single long-lived connection whose statements are
/// prepared once. SQLite does its work (and its fsync) synchronously, so this runs on the database's own writer
/// thread and never blocks the thread pool that Orleans and Kestrel share.
/// </summary>
internal sealed class SqliteGroupWriter(int ordinal, string connectionString, Func<Task> ensureReady) : IDisposable
{
    private SqliteConnection? _connection;
    private SqliteCommand _claim = null!;
    private SqliteCommand _fence = null!;
    private SqliteCommand _order = null!;
    private SqliteCommand _ticket = null!;
    private SqliteCommand _key = null!;

    /// <summary>Runs every item in one transaction and stores each item's result; the caller completes them after.</summary>
    public void Commit(IReadOnlyList<WriterItem> group, ShardSql sql)
    {
        SqliteTransaction transaction;
        try
        {
            EnsureOpen(sql);
            transaction = _connection!.BeginTransaction();
        }
        catch (Exception exception)
        {
            Reset();
            throw new ShardDatabaseUnavailableException(ordinal, exception);
        }

        try
        {
            using (transaction)
            {
                try
                {
                    foreach (var command in (ReadOnlySpan<SqliteCommand>)[_claim, _fence, _order, _ticket, _key]) command.Transaction = transaction;
                    foreach (var item in group)
                    {
                        switch (item)
                        {
                            case ClaimItem claim:
                                claim.Result = Claim(claim);
                                break;
                            case CommitItem commit:
                                commit.Outcome = Write(commit.Batch, sql);
                                break;
                        }
                    }
                }
                catch (System.Data.Common.DbException exception)
                {
                    // Before COMMIT nothing is durable, and disposing the transaction rolls it back: a definite failure.
                    throw new ShardDatabaseUnavailableException(ordinal, exception);
                }
                transaction.Commit();
            }
        }
        catch
        {
            // The connection's state is unknown after a failed write; start from a fresh one next time.
            Reset();
            throw;
        }
    }

    private ClaimedRow Claim(ClaimItem claim)
    {
        Set(_claim, claim.Shard.Key, claim.Block.First, (long)claim.Block.Size, ShardDatabase.InitialSegments(claim.Block));
        using var reader = _claim.ExecuteReader();
        if (!reader.Read()) throw new InvalidOperationException($"Claim of {claim.Shard.Key} returned no row.");
        return ShardDatabase.ReadClaim(reader, claim.Shard, claim.Block);
    }

    private CommitOutcome Write(LedgerBatch batch, ShardSql sql)
    {
        var shardKey = batch.Shard.Key;
        // The fence: only the activation holding the current epoch, extending the stored count, may write.
        if (batch.Changes is null)
        {
            Set(_fence, shardKey, batch.Epoch, batch.OldSold, batch.NewSold);
            if (_fence.ExecuteNonQuery() != 1) return CommitOutcome.Fenced;
        }
        else if (Execute(ShardDatabase.FenceFor(batch)) != 1)
        {
            return CommitOutcome.Fenced;
        }

        foreach (var order in batch.Orders)
        {
            Set(_order, order.OrderId, shardKey, order.EventId, order.TicketTypeId, order.Quantity, order.Tickets[0].Serial,
                ShardDatabase.SerialSegmentsOf(order), Money.ToCents(order.UnitPrice), order.Currency, order.Buyer.Name, order.Buyer.Email,
                order.CreatedAt.ToUnixTimeMilliseconds());
            _order.ExecuteNonQuery();
            foreach (var ticket in order.Tickets)
            {
                Set(_ticket, order.EventId, order.TicketTypeId, ticket.Serial, order.OrderId, ticket.Code);
                _ticket.ExecuteNonQuery();
            }
        }
        foreach (var key in batch.Keys)
        {
            Set(_key, shardKey, key.Key, key.Fingerprint, key.OrderId);
            _key.ExecuteNonQuery();
        }
        // Inventory changes are rare (the end of a sale, operators' actions), so they are not prepared.
        foreach (var statement in ShardDatabase.InventoryWrites(batch, sql)) Execute(statement);
        return CommitOutcome.Committed;
    }

    private int Execute(SqlStatement statement)
    {
        using var command = statement.ToCommand(_connection!, _fence.Transaction);
        return command.ExecuteNonQuery();
    }

    private void EnsureOpen(ShardSql sql)
    {
        if (_connection is not null) return;
        ensureReady().GetAwaiter().GetResult();
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = ShardDatabase.SqliteConnectionPragmas;
            pragma.ExecuteNonQuery();
        }
        _claim = Prepare(connection, sql.Claim, "@shard_key", "@block_first", "@block_size", "@segments");
        _fence = Prepare(connection, ShardSql.Fence, "@shard_key", "@epoch", "@old_sold", "@new_sold");
        _order = Prepare(connection, ShardSql.InsertOrder, "@order_id", "@shard_key", "@event_id", "@ticket_type_id",
            "@quantity", "@first_serial", "@serial_segments", "@unit_price_cents", "@currency", "@buyer_name", "@buyer_email", "@created_at_ms");
        _ticket = Prepare(connection, ShardSql.InsertTicket, "@e", "@t", "@s", "@o", "@c");
        _key = Prepare(connection, sql.UpsertKey, "@shard_key", "@idem_key", "@fingerprint", "@order_id");
        _connection = connection;
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string text, params string[] names)
    {
        var command = connection.CreateCommand();
        command.CommandText = text;
        foreach (var name in names) command.Parameters.Add(new SqliteParameter { ParameterName = name, Value = DBNull.Value });
        command.Prepare();
        return command;
    }

    private static void Set(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
    }

    private void Reset()
    {
        if (_connection is null) return;
        foreach (var command in new[] { _claim, _fence, _order, _ticket, _key }) command?.Dispose();
        _connection.Dispose();
        _connection = null;
    }

    public void Dispose() => Reset();
}
