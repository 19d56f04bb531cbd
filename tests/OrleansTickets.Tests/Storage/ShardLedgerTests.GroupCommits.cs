using System.Data.Common;
using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>Group commits: shards sharing a database commit together, and a batch the database refuses fails alone.</summary>
public sealed partial class ShardLedgerTests
{
    [PostgresFact]
    public async Task On_postgres_group_commits_go_through_one_writer_connection_that_readers_cannot_take()
    {
        // The writer has a pool of its own: readers holding every connection of the shared pool (claims, key reads
        // and the export at the end of a busy sale) must not keep a group commit waiting for a slot, and its commits
        // all use one connection, which prepared the group statement once.
        var storage = Engines.Storage(Engines.Postgres, postgres);
        storage.Settings["Storage:MaxConnectionsPerDatabase"] = "2";
        // A commit left waiting for a slot fails after this many seconds instead of Npgsql's default 15.
        storage.Settings["Storage:ConnectionString"] += ";Timeout=5";
        await using var context = LedgerContext.Create(storage);
        var shards = Enumerable.Range(0, 3).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimAllAsync(shards, BlockOf);
        var vip = new ShardAddress("e", "vip", 0);
        var vipLedger = (await context.ClaimEachAsync(vip))[vip];

        await using (var first = await context.Database(0).OpenAsync())
        await using (var second = await context.Database(0).OpenAsync())
        {
            // Connected by the claims already, before any commit needs it, and its server process has planned the
            // group statements (binding, on the way, every array type the writer binds): its last statement is the
            // plan of the one that also changes the inventory.
            Assert.Equal(1L, await WriterConnectionsAsync(first));
            var warmUp = await WriterLastStatementAsync(first);
            Assert.StartsWith("EXPLAIN WITH fenced AS", warmUp);
            Assert.Contains("changed AS", warmUp);
            // The writer's connect is a best effort that logs a failure: both plans must succeed, not only be sent.
            await PostgresLedgerWrites.PlanGroupStatementsAsync(first, CancellationToken.None);
            for (var round = 0; round < 4; round++)
            {
                var outcomes = await Task.WhenAll(shards.Select((shard, i) =>
                    ledgers[i].CommitAsync(Batch(ledgers[i], shard, round, Order(shard, $"o{i}-{round}", 101 + i * 10 + round)))));
                Assert.All(outcomes, outcome => Assert.Equal(CommitOutcome.Committed, outcome));
            }

            Assert.Equal(1L, await WriterConnectionsAsync(first));
            // The server accepts the writer's session setting: a transaction it leaves idle ends after 10 s. So does a claim's
            // on the shared pool, which holds the shard's row from its upsert to its COMMIT.
            await using (var show = new NpgsqlCommand("SHOW idle_in_transaction_session_timeout", (NpgsqlConnection)second))
            {
                Assert.Equal("10s", await show.ExecuteScalarAsync());
            }
            var writerString = DatabaseServer.ForWriter(SqlDialect.PostgreSql, postgres.Server.ConnectionString(context.ShardDatabaseName(0)));
            await using (var writer = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(writerString) { Pooling = false }.ConnectionString))
            {
                await writer.OpenAsync();
                await using var show = new NpgsqlCommand("SHOW idle_in_transaction_session_timeout", writer);
                Assert.Equal("10s", await show.ExecuteScalarAsync());
            }

            // A key another shard holds: the writer looks the group's keys up on its own connection, not one of the
            // readers', and refuses only that batch.
            Assert.Equal(CommitOutcome.Committed, await ledgers[0].CommitAsync(Keyed(ledgers[0], shards[0], "k", "ga-k", oldSold: 4)));
            Assert.Equal(CommitOutcome.KeyConflict("k"), await vipLedger.CommitAsync(Keyed(vipLedger, vip, "k", "vip-k")));
        }
        Assert.Equal([104L], (await ledgers[0].ReadOrderAsync("o0-3"))!.Tickets.Select(t => t.Serial));

        static async Task<long> WriterConnectionsAsync(DbConnection connection) =>
            Convert.ToInt64(await AboutWritersAsync(connection, "count(*)"));

        static async Task<string> WriterLastStatementAsync(DbConnection connection) =>
            Convert.ToString(await AboutWritersAsync(connection, "max(query)")) ?? "";

        static async Task<object?> AboutWritersAsync(DbConnection connection, string aggregate)
        {
            await using var writers = connection.CreateCommand();
            writers.CommandText = $"SELECT {aggregate} FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE @writer";
            var parameter = writers.CreateParameter();
            parameter.ParameterName = "writer";
            parameter.Value = "%" + ShardDatabases.WriterApplicationSuffix;
            writers.Parameters.Add(parameter);
            return await writers.ExecuteScalarAsync();
        }
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Shards_sharing_a_database_commit_together_and_one_fenced_shard_does_not_hurt_the_others(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shards = Enumerable.Range(0, 7).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimAllAsync(shards, shard => new SerialBlock(1 + shard.Index * 10, 10));
        // Shard 5 loses its epoch to another claimant.
        await context.Ledger(shards[5]).ClaimAsync(new SerialBlock(51, 10));
        using var ordersPerCommit = context.Collect<int>("orleanstickets.storage.commit.orders");

        // Shard 6's commit is taken first and waits on the held lock, so shards 0-5 queue into one group behind it.
        Task<CommitOutcome> busy;
        CommitOutcome[] outcomes;
        Task<CommitOutcome[]> grouped;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            busy = ledgers[6].CommitAsync(Batch(ledgers[6], shards[6], 0, Order(shards[6], "o6", 61)));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            grouped = Task.WhenAll(shards.Take(6).Select((shard, i) =>
                ledgers[i].CommitAsync(Batch(ledgers[i], shard, 0, Order(shard, $"o{i}", 1 + i * 10, 2 + i * 10)))));
        }
        outcomes = await grouped;

        Assert.Equal(CommitOutcome.Committed, await busy);
        Assert.Equal(Enumerable.Repeat(CommitOutcome.Committed, 5).Append(CommitOutcome.Fenced), outcomes);
        // The fenced batch was in the others' group (which wrote their five orders), not alone.
        Assert.Contains(ordersPerCommit.GetMeasurementSnapshot(), m => m.Value >= 5);
        for (var i = 0; i < 5; i++)
        {
            var order = await ledgers[i].ReadOrderAsync($"o{i}");
            Assert.Equal([1L + i * 10, 2L + i * 10], order!.Tickets.Select(t => t.Serial));
            Assert.Equal(25m, order.Total);
            Assert.Equal("Ada", order.Buyer.Name);
        }
        Assert.Null(await ledgers[5].ReadOrderAsync("o5"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_group_commit_s_duration_is_recorded_in_seconds(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        using var durations = context.Collect<double>("orleanstickets.storage.commit.duration");

        // The commit waits on the held lock for at least 300 ms, which its duration must include.
        Task<CommitOutcome> commit;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            commit = ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "slow", 101)));
            await Task.Delay(300);
        }
        Assert.Equal(CommitOutcome.Committed, await commit);

        // The clock starts when the writer takes the group, which may be a little after the call on a busy machine.
        var recorded = Assert.Single(durations.GetMeasurementSnapshot()).Value;
        Assert.InRange(recorded, 0.1, 30.0);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task The_database_refuses_a_serial_sold_twice(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = await ClaimAndSellAsync(context, shard, "first", 101);

        // A buggy grain that believes the shard sold nothing... but its epoch and count are valid for the next
        // ticket: the only thing wrong is the serial. The primary key must stop it.
        await AssertRowsRefusedAsync(() => ledger.CommitAsync(Batch(ledger, shard, 1, Order(shard, "second", 101))));
        Assert.Equal(1L, await ledger.CountTicketRowsAsync());
        Assert.Null(await ledger.ReadOrderAsync("second"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task The_database_refuses_a_sold_count_beyond_the_block(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(new SerialBlock(1, 2));
        var tooMany = Order(shard, "greedy", 1, 2, 3);
        await AssertRowsRefusedAsync(() => ledger.CommitAsync(Batch(ledger, shard, 0, tooMany)));
        Assert.Equal(0L, await ledger.CountTicketRowsAsync());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_batch_the_database_refuses_fails_alone_and_the_batches_grouped_with_it_commit(string engine) =>
        // A buggy shard 1 sells shard 0's serial 1 a second time: the tickets' primary key refuses its batch (class 23).
        AssertRefusedBatchFailsAloneAsync(engine, (ledger, shard) => Batch(ledger, shard, 0, Order(shard, "double", 1)));

    [PostgresFact]
    public Task A_batch_with_text_postgres_cannot_store_fails_alone_and_the_batches_grouped_with_it_commit() =>
        // PostgreSQL stores no NUL character in text (class 22, a data exception). The API lets no such name through,
        // but a value the database cannot store must still cost only its own batch, not its neighbours' in the group.
        AssertRefusedBatchFailsAloneAsync(Engines.Postgres, (ledger, shard) =>
            Batch(ledger, shard, 0, Order(shard, "double", 11) with { Buyer = new Buyer("Ada\0Lovelace", "ada@example.com") }));

    /// <summary>
    /// Commits <paramref name="culprit"/>'s batch (order "double", by shard 1) in one group with three good batches, and
    /// checks that the database's refusal of it fails it alone.
    /// </summary>
    private async Task AssertRefusedBatchFailsAloneAsync(string engine, Func<ShardLedger, ShardAddress, LedgerBatch> culprit)
    {
        // The writer says when the database refused a whole group: without it the refused batch could have ridden
        // alone, and the test would not show that its neighbours in the group survive it.
        using var groupRefused = new LogHook("refused a group of", () => { });
        await using var context = await LedgerContext.CreateAsync(engine, postgres, groupRefused);
        var shards = Enumerable.Range(0, 5).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimAllAsync(shards, shard => new SerialBlock(1 + shard.Index * 10, shard.Index == 4 ? 200 : 10));
        using var ordersPerCommit = context.Collect<int>("orleanstickets.storage.commit.orders");
        Assert.Equal(CommitOutcome.Committed, await ledgers[0].CommitAsync(Batch(ledgers[0], shards[0], 0, Order(shards[0], "first", 1))));

        // The writes are held while the batches below queue up: whatever the writer took first (shard 4's hundred
        // orders at least) waits on the lock, and the rest go into its next group together, so the refused batch is
        // grouped with another whichever way the queue was split.
        Task<CommitOutcome> busy, refused;
        List<Task<CommitOutcome>> others;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            busy = ledgers[4].CommitAsync(new LedgerBatch(shards[4], ledgers[4].Epoch, 0, 100,
                [.. Enumerable.Range(0, 100).Select(k => Order(shards[4], $"big{k}", 41 + k))], []));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            refused = ledgers[1].CommitAsync(culprit(ledgers[1], shards[1]));
            others = [.. new[] { 2, 3 }.Select(i => ledgers[i].CommitAsync(Batch(ledgers[i], shards[i], 0, Order(shards[i], $"o{i}", 1 + i * 10))))];
        }

        await Assert.ThrowsAsync<ShardDatabaseUnavailableException>(() => refused);
        Assert.Equal(Enumerable.Repeat(CommitOutcome.Committed, 3), await Task.WhenAll(others.Prepend(busy)));
        Assert.Null(await ledgers[1].ReadOrderAsync("double"));
        Assert.Equal("first", (await ledgers[0].ReadOrderAsync("first"))!.OrderId);
        Assert.Equal([21L], (await ledgers[2].ReadOrderAsync("o2"))!.Tickets.Select(t => t.Serial));
        Assert.Equal([31L], (await ledgers[3].ReadOrderAsync("o3"))!.Tickets.Select(t => t.Serial));
        // The commits made one batch at a time are counted like any other, and the refused batch in none.
        Assert.Equal(1 + 100 + 2, ordersPerCommit.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1, groupRefused.Calls);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_commit_after_the_databases_are_closed_is_a_definite_refusal(string engine)
    {
        var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await context.DisposeAsync();

        // Never queued, so nothing can have been written: not the "outcome unknown" of a failed COMMIT.
        await Assert.ThrowsAsync<ShardDatabaseUnavailableException>(() => ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "late", 101))));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_meter_listener_that_throws_does_not_turn_a_durable_commit_into_a_failure(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        // Only this context's meter: other tests' commits in this process must not meet the broken listener.
        using var listener = new BrokenMeterListener(instrument =>
            ReferenceEquals(instrument.Meter.Scope, context) && instrument.Name == "orleanstickets.storage.commits");
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);

        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "o1", 101, 102))));
        // Without this the test would pass with a listener that never met the commit's measurement.
        Assert.True(listener.Thrown > 0, "The broken listener was never called on the commit's measurement.");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_logging_provider_that_throws_while_a_group_is_refused_does_not_stop_the_writer(string engine)
    {
        using var throwingLog = new LogHook("refused a group of", () => throw new IOException("The log's disk is full (played by a test)."));
        await using var context = await LedgerContext.CreateAsync(engine, postgres, throwingLog);
        var shards = Enumerable.Range(0, 5).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimAllAsync(shards, shard => new SerialBlock(1 + shard.Index * 10, shard.Index == 4 ? 200 : 10));
        Assert.Equal(CommitOutcome.Committed, await ledgers[0].CommitAsync(Batch(ledgers[0], shards[0], 0, Order(shards[0], "first", 1))));

        Task<CommitOutcome> busy, refused, other;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            busy = ledgers[4].CommitAsync(Batch(ledgers[4], shards[4], 0, Order(shards[4], "big", 41)));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            refused = ledgers[1].CommitAsync(Batch(ledgers[1], shards[1], 0, Order(shards[1], "double", 1)));
            other = ledgers[2].CommitAsync(Batch(ledgers[2], shards[2], 0, Order(shards[2], "o2", 21)));
        }

        var deadline = TimeSpan.FromSeconds(30);
        await Assert.ThrowsAsync<ShardDatabaseUnavailableException>(() => refused.WaitAsync(deadline));
        Assert.Equal([CommitOutcome.Committed, CommitOutcome.Committed], await Task.WhenAll(busy, other).WaitAsync(deadline));
        Assert.Equal(1, throwingLog.Calls);
        // The writer still commits for the database.
        Assert.Equal(CommitOutcome.Committed, await ledgers[3].CommitAsync(Batch(ledgers[3], shards[3], 0, Order(shards[3], "after", 31))).WaitAsync(deadline));
    }

    [PostgresFact]
    public async Task A_database_that_goes_away_while_a_refused_group_is_retried_one_batch_at_a_time_fails_the_rest_at_once()
    {
        // The writer says when it starts committing a refused group's batches one at a time; at that moment the shard
        // database is cut off, as an outage would. The first batch then fails for the outage, not for its rows, and
        // the batches after it are failed with that same error instead of each waiting for an attempt of its own.
        var shardDatabase = "";
        // The hook runs on the writer's own flow, which waits for the cut before it commits the first batch alone.
        using var cut = new LogHook("committing them one at a time",
            () => postgres.Server.SetConnectionsAsync(shardDatabase, allowed: false).GetAwaiter().GetResult());
        await using var context = await LedgerContext.CreateAsync("postgres", postgres, cut);
        shardDatabase = context.ShardDatabaseName(0);
        try
        {
            var shards = Enumerable.Range(0, 4).Select(i => new ShardAddress("e", "ga", i)).ToList();
            var ledgers = await context.ClaimAllAsync(shards, shard => new SerialBlock(1 + shard.Index * 10, 10));
            Assert.Equal(CommitOutcome.Committed, await ledgers[0].CommitAsync(Batch(ledgers[0], shards[0], 0, Order(shards[0], "first", 1))));

            // The three batches must form one group. So the writer is held in a commit of shard 0 (another session
            // locks the shard rows) while they queue, and let go once they all wait behind it.
            Task<CommitOutcome> blocker, refused;
            List<Task<CommitOutcome>> others;
            await using (await HeldWrites.HoldAsync(context.Database(0)))
            {
                blocker = ledgers[0].CommitAsync(Batch(ledgers[0], shards[0], 1, Order(shards[0], "second", 2)));
                await Poll.UntilAsync(() => SessionsWaitingOnALockAsync(shardDatabase), failure: "The writer never waited on the lock.");
                // Shard 1 sells shard 0's serial 1 a second time: the tickets' primary key refuses the group.
                refused = ledgers[1].CommitAsync(Batch(ledgers[1], shards[1], 0, Order(shards[1], "double", 1)));
                others = [.. new[] { 2, 3 }.Select(i => ledgers[i].CommitAsync(Batch(ledgers[i], shards[i], 0, Order(shards[i], $"o{i}", 1 + i * 10))))];
            }

            Assert.Equal(CommitOutcome.Committed, await blocker);
            var outage = await Assert.ThrowsAnyAsync<Exception>(() => refused);
            Assert.Equal(1, cut.Calls);
            Assert.IsType<PostgresException>(outage.InnerException);
            foreach (var other in others) Assert.Same(outage, await Assert.ThrowsAnyAsync<Exception>(() => other));
        }
        finally
        {
            await postgres.Server.SetConnectionsAsync(shardDatabase, allowed: true);
        }
    }

    private async Task<bool> SessionsWaitingOnALockAsync(string database)
    {
        await using var connection = new NpgsqlConnection(postgres.Server.ConnectionString());
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = @database AND wait_event_type = 'Lock'", connection);
        count.Parameters.AddWithValue("database", database);
        return (long)(await count.ExecuteScalarAsync())! > 0;
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_batch_that_also_changes_the_inventory_writes_its_orders_and_keys_too(string engine)
    {
        // Inventory changes take another fence (more columns), so on PostgreSQL such a batch goes a different way
        // through the group commit than a batch that only sells; its rows must be written all the same.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var changing = new ShardAddress("e", "ga", 0);
        var selling = new ShardAddress("e", "ga", 1);
        var changer = context.Ledger(changing);
        var seller = context.Ledger(selling);
        await changer.ClaimAsync(BlockOf(changing));
        await seller.ClaimAsync(BlockOf(selling));
        var changes = new InventoryChanges(
            Capacity: BlockOf(changing).Size, Segments: SegmentText.Format([new SerialSegment(BlockOf(changing).First, BlockOf(changing).Size)]), Retired: false,
            TransfersOut: [], TransfersIn: [], Delivered: [], Refusals: ["e.ga.7.refused"]);

        var outcomes = await Task.WhenAll(
            changer.CommitAsync(Keyed(changer, changing, "k-changing", "changing-1") with { Changes = changes }),
            seller.CommitAsync(Keyed(seller, selling, "k-selling", "selling-1")));

        Assert.All(outcomes, outcome => Assert.Equal(CommitOutcome.Committed, outcome));
        Assert.NotNull(await changer.ReadOrderAsync("changing-1"));
        Assert.Equal(1L, await changer.CountTicketRowsAsync());
        Assert.Equal(new StoredKey(changing.Key, "fp", "changing-1"), await changer.ReadKeyAsync("k-changing"));
        var claim = await context.Ledger(changing).ClaimAsync(BlockOf(changing));
        Assert.Equal("e.ga.7.refused", Assert.Single(claim.Refused));
        Assert.Equal(1L, await seller.CountTicketRowsAsync());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_group_writes_the_gifts_receipts_delivery_marks_and_refusals_of_its_matched_batches_and_none_of_a_fenced_one(string engine)
    {
        // On PostgreSQL a group's fences, rows and inventory changes are one statement, each change kept only if its
        // batch's fence matched. Here one group holds a shard that only sells, then a donor and a receiver that change
        // their inventory, and an activation that lost its shard trying to change it too.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var (donor, receiver, lost, other, seller) = (new ShardAddress("e", "ga", 0), new ShardAddress("e", "ga", 1),
            new ShardAddress("e", "ga", 2), new ShardAddress("e", "ga", 3), new ShardAddress("e", "ga", 4));
        var ledgers = await context.ClaimEachAsync(donor, receiver, lost, other, seller);
        // Earlier commits: the donor gave t1 (109-110) to the receiver, and the shard about to be lost gave t0 (129-130).
        var t1 = new TicketTransfer("t1", donor.Key, [new SerialSegment(109, 2)]);
        var t0 = new TicketTransfer("t0", lost.Key, [new SerialSegment(129, 2)]);
        Assert.Equal(CommitOutcome.Committed, await ledgers[donor].CommitAsync(Changing(ledgers[donor], donor, 8, "101+8",
            transfersOut: [new OutgoingTransfer(receiver.Key, t1)])));
        Assert.Equal(CommitOutcome.Committed, await ledgers[lost].CommitAsync(Changing(ledgers[lost], lost, 8, "121+8",
            transfersOut: [new OutgoingTransfer(receiver.Key, t0)])));
        await context.Ledger(lost).ClaimAsync(BlockOf(lost));

        Task<CommitOutcome>[] outcomes;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            // Taken by the writer and held; the batches below queue up behind it and go into its next group together,
            // the selling one first, so that a changing batch's place in the group is not its place among the changing.
            var first = ledgers[other].CommitAsync(Batch(ledgers[other], other, 0, Order(other, "o-other", 131)));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            outcomes =
            [
                first,
                ledgers[seller].CommitAsync(Batch(ledgers[seller], seller, 0, Order(seller, "o-seller", 141))),
                // The receiver said it took t1 in; the donor marks it delivered, gives t2 (107-108), refuses an order and sells.
                ledgers[donor].CommitAsync(Changing(ledgers[donor], donor, 6, "101+6",
                    transfersOut: [new OutgoingTransfer(receiver.Key, new TicketTransfer("t2", donor.Key, [new SerialSegment(107, 2)]))],
                    delivered: ["t1"], refusals: ["e.ga.0.x"], order: Order(donor, "o-donor", 101))),
                ledgers[receiver].CommitAsync(Changing(ledgers[receiver], receiver, 12, "111+10;109+2", transfersIn: [t1], refusals: ["e.ga.1.y"])),
                // Fenced: none of it may be written, not even the delivery mark of its own earlier gift.
                ledgers[lost].CommitAsync(Changing(ledgers[lost], lost, 6, "121+6", retired: true,
                    transfersOut: [new OutgoingTransfer(receiver.Key, new TicketTransfer("t3", lost.Key, [new SerialSegment(127, 2)]))],
                    transfersIn: [new TicketTransfer("t4", other.Key, [new SerialSegment(139, 1)])], delivered: ["t0"], refusals: ["e.ga.2.z"],
                    order: Order(lost, "o-lost", 121))),
            ];
        }

        Assert.Equal(
            [CommitOutcome.Committed, CommitOutcome.Committed, CommitOutcome.Committed, CommitOutcome.Committed, CommitOutcome.Fenced],
            await Task.WhenAll(outcomes));
        Assert.NotNull(await ledgers[seller].ReadOrderAsync("o-seller"));
        Assert.NotNull(await ledgers[donor].ReadOrderAsync("o-donor"));
        var donorRow = await context.Ledger(donor).ClaimAsync(BlockOf(donor));
        Assert.Equal((6L, "101+6", 1L), (donorRow.Row.Capacity, donorRow.Row.Segments, donorRow.Sold));
        Assert.Equal(["t2"], donorRow.Undelivered.Select(gift => gift.Transfer.TransferId));
        Assert.Equal(2L, donorRow.Settled);
        Assert.Equal(["e.ga.0.x"], donorRow.Refused);
        var receiverRow = await context.Ledger(receiver).ClaimAsync(BlockOf(receiver));
        Assert.Equal((12L, "111+10;109+2"), (receiverRow.Row.Capacity, receiverRow.Row.Segments));
        Assert.Equal(["t1"], receiverRow.TakenIn);
        Assert.Equal(2L, receiverRow.TakenInFromShards);
        Assert.Equal(["e.ga.1.y"], receiverRow.Refused);
        var lostRow = await context.Ledger(lost).ClaimAsync(BlockOf(lost));
        Assert.Equal((8L, "121+8", false, 0L), (lostRow.Row.Capacity, lostRow.Row.Segments, lostRow.Row.Retired, lostRow.Sold));
        Assert.Equal(["t0"], lostRow.Undelivered.Select(gift => gift.Transfer.TransferId));
        Assert.Equal((0L, 0L), (lostRow.Settled, lostRow.TakenInFromShards));
        Assert.Empty(lostRow.TakenIn);
        Assert.Empty(lostRow.Refused);
        Assert.Null(await ledgers[lost].ReadOrderAsync("o-lost"));
        Assert.NotNull(await ledgers[other].ReadOrderAsync("o-other"));
    }
}
