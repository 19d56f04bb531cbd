using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;
using OrleansTickets.Export;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The shard ledger's storage contract, run against SQLite and a real PostgreSQL: fencing by epoch, group commit of
/// several shards in one database, and the database's own refusal of a double sale or an oversell.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ShardLedgerTests(PostgresFixture postgres)
{
    private static readonly SerialBlock Block = new(First: 101, Size: 10);

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Each_claim_takes_a_new_epoch_and_returns_the_durable_sold_count(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var first = context.Ledger(shard);
        var claim1 = await first.ClaimAsync(Block);
        Assert.Equal((1L, 0L), (claim1.Epoch, claim1.Sold));

        Assert.Equal(CommitOutcome.Committed, await first.CommitAsync(Batch(first, shard, 0, Order(shard, "o1", 101, 102))));
        var claim2 = await context.Ledger(shard).ClaimAsync(Block);
        Assert.Equal((2L, 2L), (claim2.Epoch, claim2.Sold));

        await Assert.ThrowsAsync<InvalidOperationException>(() => context.Ledger(shard).ClaimAsync(new SerialBlock(1, 10)));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_claim_whose_block_disagrees_with_the_catalog_fails_alone_and_takes_no_epoch(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shards = Enumerable.Range(0, 5).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimAllAsync(shards, shard => new SerialBlock(1 + shard.Index * 10, shard.Index == 4 ? 200 : 10));
        using var ordersPerCommit = context.Collect<int>("orleanstickets.storage.commit.orders");

        // One writer commits for the database. Its writes are held while shard 4's hundred orders, the claim and the
        // three commits below queue up: whatever the writer took first waits on the lock, and the rest go into its next
        // group together.
        Task<CommitOutcome> busy;
        Task<ShardClaim> wrongClaim;
        List<Task<CommitOutcome>> commits;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            busy = ledgers[4].CommitAsync(new LedgerBatch(shards[4], ledgers[4].Epoch, 0, 100,
                [.. Enumerable.Range(0, 100).Select(k => Order(shards[4], $"big{k}", 41 + k))], []));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            // Shard 3 is claimed again with a block its row does not have.
            wrongClaim = context.Ledger(shards[3]).ClaimAsync(new SerialBlock(999, 10));
            commits = [.. shards.Take(3).Select((shard, i) => ledgers[i].CommitAsync(Batch(ledgers[i], shard, 0, Order(shard, $"o{i}", 1 + i * 10))))];
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => wrongClaim);
        Assert.Equal(Enumerable.Repeat(CommitOutcome.Committed, 4), await Task.WhenAll(commits.Prepend(busy)));
        // Small commits rode in a group: with each other, or with the big one (101 to 103 orders).
        Assert.Contains(ordersPerCommit.GetMeasurementSnapshot(), m => m.Value >= 2 && m.Value != 100);
        Assert.Equal(2L, (await context.Ledger(shards[3]).ClaimAsync(new SerialBlock(31, 10))).Epoch);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_claim_overtaken_while_it_reads_its_transfers_is_lost_instead_of_loading_two_states_of_the_shard(string engine)
    {
        // A claim's row and its transfers are read by separate statements. A newer activation that claims in between and
        // takes a gift in would leave the older one with the gift among its take-ins but not in its row's capacity.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var (donor, receiver) = (new ShardAddress("e", "ga", 0), new ShardAddress("e", "ga", 1));
        var ledgers = await context.ClaimEachAsync(donor, receiver);
        var gift = new TicketTransfer("g1", donor.Key, [new SerialSegment(109, 2)]);
        Assert.Equal(CommitOutcome.Committed, await ledgers[donor].CommitAsync(Changing(ledgers[donor], donor, 8, "101+8",
            transfersOut: [new OutgoingTransfer(receiver.Key, gift)])));

        var older = context.Ledger(receiver);
        var row = await older.ClaimRowAsync(BlockOf(receiver));
        var newer = context.Ledger(receiver);
        await newer.ClaimAsync(BlockOf(receiver));
        Assert.Equal(CommitOutcome.Committed, await newer.CommitAsync(Changing(newer, receiver, 12, "111+10;109+2", transfersIn: [gift])));

        Assert.Equal(10L, row.Capacity);
        await Assert.ThrowsAsync<ShardClaimLostException>(() => older.ReadClaimAsync(row));
        // A claim that nothing overtook reads the gift in its row and among its take-ins alike.
        var claim = await context.Ledger(receiver).ClaimAsync(BlockOf(receiver));
        Assert.Equal((12L, 2L, 4L), (claim.Row.Capacity, claim.TakenInFromShards, claim.Epoch));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_ledger_claiming_again_keeps_the_shard_only_while_it_still_holds_it(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var stale = await ClaimAndSellAsync(context, shard, "before", 101);

        // A reload after a commit whose outcome was unknown: the ledger still holds the shard, so it takes a new epoch.
        var reloaded = await stale.ClaimAsync(Block);
        Assert.Equal((2L, 1L), (reloaded.Epoch, reloaded.Sold));

        // A newer activation claims the shard (a membership change). The stale one's next reload must not take it back:
        // it would commit what it decided before the reload, under an epoch it took from the newer one.
        var newer = context.Ledger(shard);
        Assert.Equal(3L, (await newer.ClaimAsync(Block)).Epoch);
        var lost = await Assert.ThrowsAsync<ShardClaimLostException>(() => stale.ClaimAsync(Block));
        Assert.Contains("epoch 2", lost.Message);

        // Nothing moved: the newer activation still holds epoch 3 and writes, and the stale one stays fenced.
        Assert.Equal(CommitOutcome.Committed, await newer.CommitAsync(Batch(newer, shard, 1, Order(shard, "after", 102))));
        Assert.Equal(CommitOutcome.Fenced, await stale.CommitAsync(Batch(stale, shard, 2, Order(shard, "stale", 103))));
        Assert.Equal(2L, await newer.CountTicketRowsAsync());
        // A new activation's first claim still takes the shard, whoever held it.
        Assert.Equal(4L, (await context.Ledger(shard).ClaimAsync(Block)).Epoch);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_stale_epoch_or_a_moved_sold_count_is_fenced_and_writes_nothing(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var loser = context.Ledger(shard);
        await loser.ClaimAsync(Block);
        var winner = context.Ledger(shard);
        await winner.ClaimAsync(Block);
        using var ordersPerCommit = context.Collect<int>("orleanstickets.storage.commit.orders");

        Assert.Equal(CommitOutcome.Fenced, await loser.CommitAsync(Batch(loser, shard, 0, Order(shard, "lost", 101))));
        Assert.Equal(CommitOutcome.Fenced, await winner.CommitAsync(Batch(winner, shard, oldSold: 5, Order(shard, "skewed", 106))));
        Assert.Equal(0L, await winner.CountTicketRowsAsync());
        Assert.Null(await winner.ReadOrderAsync("lost"));

        Assert.Equal(CommitOutcome.Committed, await winner.CommitAsync(Batch(winner, shard, 0, Order(shard, "kept", 101))));
        Assert.Equal(1L, await winner.CountTicketRowsAsync());
        // Each batch rode in a commit of its own, but only the one that wrote counts an order.
        Assert.Equal([0, 0, 1], ordersPerCommit.GetMeasurementSnapshot().Select(m => m.Value));
    }

    [PostgresFact]
    public async Task A_commit_that_waited_on_a_newer_claim_is_fenced_even_where_the_database_defaults_to_serializable()
    {
        // A DBA may make SERIALIZABLE the database's default. Fencing relies on READ COMMITTED: a commit that waited
        // on a newer activation's claim re-reads the row and matches nothing. Under a stricter default it fails with a
        // serialization error instead, and the stale activation, taking that for an outage, would reload and claim the
        // shard back from the newer one.
        await using var context = await LedgerContext.CreateAsync(Engines.Postgres, postgres);
        var database = context.ShardDatabaseName(0);
        await postgres.Server.CreateDatabaseAsync(database);
        await using var admin = new NpgsqlConnection(postgres.Server.ConnectionString());
        await admin.OpenAsync();
        await using (var strict = new NpgsqlCommand($"ALTER DATABASE \"{database}\" SET default_transaction_isolation = 'serializable'", admin))
        {
            await strict.ExecuteNonQueryAsync();
        }
        var shard = new ShardAddress("e", "ga", 0);
        var stale = context.Ledger(shard);
        await stale.ClaimAsync(Block);

        // The newer activation's claim, held open while the stale activation commits.
        await using var newer = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString(database)) { Pooling = false }.ConnectionString);
        await newer.OpenAsync();
        await using var claim = await newer.BeginTransactionAsync();
        await using (var bump = new NpgsqlCommand("UPDATE shard_state SET epoch = epoch + 1 WHERE shard_key = @shard", newer, claim))
        {
            bump.Parameters.AddWithValue("shard", shard.Key);
            Assert.Equal(1, await bump.ExecuteNonQueryAsync());
        }
        var commit = stale.CommitAsync(Batch(stale, shard, 0, Order(shard, "stale", 101)));
        await Poll.UntilAsync(async () =>
        {
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = @database AND wait_event_type = 'Lock'", admin);
            waiting.Parameters.AddWithValue("database", database);
            return (long)(await waiting.ExecuteScalarAsync())! > 0;
        }, delayMilliseconds: 20, failure: "The stale activation's commit never waited on the newer claim.");
        await claim.CommitAsync();

        Assert.Equal(CommitOutcome.Fenced, await commit);
        Assert.Null(await stale.ReadOrderAsync("stale"));
    }

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
    public async Task A_key_is_inserted_once_per_event_and_moved_only_by_its_home_from_the_order_it_points_at(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var home = new ShardAddress("e", "ga", 0);
        var other = new ShardAddress("e", "ga", 1);
        var ledger = context.Ledger(home);
        var otherLedger = context.Ledger(other);
        await ledger.ClaimAsync(BlockOf(home));
        await otherLedger.ClaimAsync(BlockOf(other));
        Assert.Null(await ledger.ReadKeyAsync("key-1"));

        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(KeysOnly(ledger, home, new IdempotencyRecord("key-1", "FP", "e.ga.3.first"))));
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(
            KeysOnly(ledger, home, new IdempotencyRecord("key-1", "FP", "e.ga.4.second", PreviousOrderId: "e.ga.3.first"))));
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.4.second"), await ledger.ReadKeyAsync("key-1"));

        // Each of these is refused whole, its order and fence included: inserting the key again (even by its home),
        // moving it from an order it no longer points at, or moving it from another shard.
        var refused = new[]
        {
            (Ledger: ledger, Shard: home, Key: new IdempotencyRecord("key-1", "FP", "e.ga.0.again")),
            (Ledger: ledger, Shard: home, Key: new IdempotencyRecord("key-1", "FP", "e.ga.0.stale", PreviousOrderId: "e.ga.3.first")),
            (Ledger: otherLedger, Shard: other, Key: new IdempotencyRecord("key-1", "FP", "e.ga.1.foreign", PreviousOrderId: "e.ga.4.second")),
        };
        foreach (var (refusedLedger, shard, key) in refused)
        {
            var batch = Batch(refusedLedger, shard, 0, Order(shard, key.OrderId, BlockOf(shard).First)) with { Keys = [key] };
            Assert.Equal(CommitOutcome.KeyConflict("key-1"), await refusedLedger.CommitAsync(batch));
            Assert.Null(await refusedLedger.ReadOrderAsync(key.OrderId));
        }
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.4.second"), await ledger.ReadKeyAsync("key-1"));
        Assert.Equal(0L, await ledger.CountTicketRowsAsync() + await otherLedger.CountTicketRowsAsync());

        // The refused batches moved no sold count: the next batch of each shard still extends 0.
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Keyed(ledger, home, "key-2", "e.ga.0.next-home")));
        Assert.Equal(CommitOutcome.Committed, await otherLedger.CommitAsync(Keyed(otherLedger, other, "key-3", "e.ga.1.next-other")));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_order_reads_back_exactly_as_it_was_written(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        // Non-ASCII text in every free-text column, and serials that are not one run (stored as segments).
        var order = Order(shard, "e.ga.0.zoë", 101, 102, 105) with
        {
            Buyer = new Buyer("Zoë Ünïcödé 🎟️ 山田", "zoë@例え.jp"),
            Tickets = [new TicketDetails("code-ä-101", 101), new TicketDetails("code-102", 102), new TicketDetails("code-🎟-105", 105)],
        };

        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, order)));

        Assert.Equal(order, await ledger.ReadOrderAsync(order.OrderId), OrderComparer.Instance);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Orders_are_stored_under_their_key_and_found_only_by_their_whole_id(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        var id = OrderId.New(shard, DateTimeOffset.UtcNow);
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, id, 101))));

        Assert.Equal(id, (await ledger.ReadOrderAsync(id))?.OrderId);
        // The database keys orders by the id's last part alone; an id that shares it but names another shard or
        // event is not this order.
        var key = OrderId.KeyOf(id);
        Assert.Null(await ledger.ReadOrderAsync($"e.ga.1.{key}"));
        Assert.Null(await ledger.ReadOrderAsync($"f.ga.0.{key}"));
        // The key is the primary key: a second order under the same key, even with another prefix, is refused, and
        // nothing of its batch is written.
        await AssertRowsRefusedAsync(() => ledger.CommitAsync(Batch(ledger, shard, 1, Order(shard, $"e.vip.0.{key}", 102))));
        Assert.Equal(1L, await ledger.CountTicketRowsAsync());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_key_another_shard_of_the_event_holds_is_refused_and_only_its_batch_is_dropped(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var ga = new ShardAddress("e", "ga", 0);
        var vip = new ShardAddress("e", "vip", 0);
        var camping = new ShardAddress("e", "camping", 0);
        var ga1 = new ShardAddress("e", "ga", 1);
        var otherEvent = new ShardAddress("f", "ga", 0);
        var busy = new ShardAddress("e", "ga", 2);
        var ledgers = await context.ClaimEachAsync(ga, vip, camping, ga1, otherEvent, busy);
        Assert.Equal(CommitOutcome.Committed, await ledgers[ga].CommitAsync(Keyed(ledgers[ga], ga, "k", "ga-1")));

        // In one group (queued while the database is held, behind another shard's batch): the key again from another
        // type's home (refused), a fresh key, and the key in another event.
        Task<CommitOutcome[]> grouped;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            _ = ledgers[busy].CommitAsync(Keyed(ledgers[busy], busy, "kb", "busy-1"));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            grouped = Task.WhenAll(
                ledgers[vip].CommitAsync(Keyed(ledgers[vip], vip, "k", "vip-1")),
                ledgers[ga1].CommitAsync(Keyed(ledgers[ga1], ga1, "k2", "ga1-1")),
                ledgers[otherEvent].CommitAsync(Keyed(ledgers[otherEvent], otherEvent, "k", "f-1")));
        }
        var outcomes = await grouped;
        Assert.Equal([CommitOutcome.KeyConflict("k"), CommitOutcome.Committed, CommitOutcome.Committed], outcomes);
        Assert.Null(await ledgers[vip].ReadOrderAsync("vip-1"));
        Assert.NotNull(await ledgers[ga1].ReadOrderAsync("ga1-1"));
        Assert.NotNull(await ledgers[otherEvent].ReadOrderAsync("f-1"));

        // The refused batch wrote nothing, its fence included: the shard's next batch starts from the same count.
        Assert.Equal(CommitOutcome.Committed, await ledgers[vip].CommitAsync(Keyed(ledgers[vip], vip, "k3", "vip-2")));
        // The home may still point its own key at another order.
        Assert.Equal(CommitOutcome.Committed, await ledgers[ga].CommitAsync(
            new LedgerBatch(ga, ledgers[ga].Epoch, 1, 1, [], [new IdempotencyRecord("k", "fp", "ga-moved", PreviousOrderId: "ga-1")])));
        Assert.Equal(new StoredKey(ga.Key, "fp", "ga-moved"), await ledgers[vip].ReadKeyAsync("k"));

        // Two homes racing with one new key in one group: exactly one keeps it.
        Task<CommitOutcome[]> racing;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            _ = ledgers[busy].CommitAsync(Keyed(ledgers[busy], busy, "kb2", "busy-2", oldSold: 1));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            racing = Task.WhenAll(
                ledgers[camping].CommitAsync(Keyed(ledgers[camping], camping, "k4", "camping-1")),
                ledgers[ga1].CommitAsync(Keyed(ledgers[ga1], ga1, "k4", "ga1-2", oldSold: 1)));
        }
        var race = await racing;
        Assert.Single(race, outcome => outcome == CommitOutcome.Committed);
        Assert.Single(race, outcome => outcome == CommitOutcome.KeyConflict("k4"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_holder_records_its_home_s_key_with_the_order_only_while_the_home_keeps_the_epoch_it_forwarded_under(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var home = new ShardAddress("e", "ga", 0);
        var holder = new ShardAddress("e", "ga", 1);
        var ledgers = await context.ClaimEachAsync(home, holder);
        var forwardedUnder = new ForwardingHome(home.Key, ledgers[home].Epoch);
        LedgerBatch Forwarded(string key, string orderId, long oldSold, ForwardingHome by) =>
            Batch(ledgers[holder], holder, oldSold, Order(holder, orderId, BlockOf(holder).First + oldSold))
                with { Keys = [new IdempotencyRecord(key, "FP", orderId, Home: by)] };

        // The key row names the home, not the holder that wrote it: the home answers the key's retries.
        Assert.Equal(CommitOutcome.Committed, await ledgers[holder].CommitAsync(Forwarded("k1", "e.ga.1.first", 0, forwardedUnder)));
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.1.first"), await ledgers[home].ReadKeyAsync("k1"));
        Assert.NotNull(await ledgers[holder].ReadOrderAsync("e.ga.1.first"));

        // A key the event has already is refused, with the holder's order.
        Assert.Equal(CommitOutcome.KeyConflict("k1"), await ledgers[holder].CommitAsync(Forwarded("k1", "e.ga.1.again", 1, forwardedUnder)));
        Assert.Null(await ledgers[holder].ReadOrderAsync("e.ga.1.again"));

        // A newer activation of the home claims it: what the older one forwarded is refused whole, and the holder's
        // sold count does not move.
        var newerHome = context.Ledger(home);
        await newerHome.ClaimAsync(BlockOf(home));
        Assert.Equal(CommitOutcome.KeyConflict("k2"), await ledgers[holder].CommitAsync(Forwarded("k2", "e.ga.1.stale", 1, forwardedUnder)));
        Assert.Null(await ledgers[holder].ReadOrderAsync("e.ga.1.stale"));
        Assert.Null(await newerHome.ReadKeyAsync("k2"));
        Assert.Equal(CommitOutcome.Committed, await ledgers[holder].CommitAsync(
            Forwarded("k2", "e.ga.1.newer", 1, new ForwardingHome(home.Key, newerHome.Epoch))));
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.1.newer"), await newerHome.ReadKeyAsync("k2"));

        // A home on another database has no row here: nothing is recorded for it.
        var elsewhere = new ForwardingHome(new ShardAddress("e", "ga", 7).Key, 1);
        Assert.Equal(CommitOutcome.KeyConflict("k3"), await ledgers[holder].CommitAsync(Forwarded("k3", "e.ga.1.lost", 2, elsewhere)));
        Assert.Null(await newerHome.ReadKeyAsync("k3"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_holder_s_record_of_its_home_s_key_commits_in_one_group_with_the_home_s_own_batch(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var home = new ShardAddress("e", "ga", 0);
        var holder = new ShardAddress("e", "ga", 1);
        var busy = new ShardAddress("e", "ga", 2);
        var ledgers = await context.ClaimEachAsync(home, holder, busy);

        // Queued while the database is held, behind another shard's batch, so the two go in one group. On PostgreSQL
        // the home's own fence in the group is the check (a row the statement updated cannot be locked in it again).
        Task<CommitOutcome[]> grouped;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            _ = ledgers[busy].CommitAsync(Keyed(ledgers[busy], busy, "kb", "busy-1"));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            grouped = Task.WhenAll(
                ledgers[home].CommitAsync(Keyed(ledgers[home], home, "own", "e.ga.0.own")),
                ledgers[holder].CommitAsync(Batch(ledgers[holder], holder, 0, Order(holder, "e.ga.1.fwd", BlockOf(holder).First))
                    with { Keys = [new IdempotencyRecord("fwd", "FP", "e.ga.1.fwd", Home: new ForwardingHome(home.Key, ledgers[home].Epoch))] }));
        }
        Assert.Equal([CommitOutcome.Committed, CommitOutcome.Committed], await grouped);
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.1.fwd"), await ledgers[home].ReadKeyAsync("fwd"));
        Assert.Equal(new StoredKey(home.Key, "fp", "e.ga.0.own"), await ledgers[home].ReadKeyAsync("own"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_key_recorded_twice_in_one_batch_refuses_that_batch_alone(string engine)
    {
        // A shard that is one type's home of a key and, for another type, the holder of the same key's forward: a
        // client reusing the key across types at once. The database refuses the second row; the batch is refused as
        // for any key the event has, not the whole group.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var home = new ShardAddress("e", "ga", 0);
        var holder = new ShardAddress("e", "ga", 1);
        var ledgers = await context.ClaimEachAsync(home, holder);
        var first = BlockOf(holder).First;
        var twice = new LedgerBatch(holder, ledgers[holder].Epoch, 0, 2,
            [Order(holder, "e.ga.1.own", first), Order(holder, "e.ga.1.fwd", first + 1)],
            [new IdempotencyRecord("dup", "FP", "e.ga.1.own"),
             new IdempotencyRecord("dup", "FP", "e.ga.1.fwd", Home: new ForwardingHome(home.Key, ledgers[home].Epoch))]);

        Assert.Equal(CommitOutcome.KeyConflict("dup"), await ledgers[holder].CommitAsync(twice));
        Assert.Null(await ledgers[holder].ReadKeyAsync("dup"));
        Assert.Null(await ledgers[holder].ReadOrderAsync("e.ga.1.own"));
    }

    [PostgresFact]
    public async Task On_postgres_a_holder_passes_over_a_home_row_another_transaction_holds_instead_of_waiting_for_it()
    {
        await using var context = await LedgerContext.CreateAsync(Engines.Postgres, postgres);
        var home = new ShardAddress("e", "ga", 0);
        var holder = new ShardAddress("e", "ga", 1);
        var ledgers = await context.ClaimEachAsync(home, holder);
        var forwarded = new ForwardingHome(home.Key, ledgers[home].Epoch);

        // Another writer's transaction (another silo's group, with the home's fence in it) holds the home's row.
        await using var other = new NpgsqlConnection(
            new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString(context.ShardDatabaseName(0))) { Pooling = false }.ConnectionString);
        await other.OpenAsync();
        var holding = await other.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM shard_state WHERE shard_key = @shard FOR NO KEY UPDATE", other, holding))
        {
            lockRow.Parameters.AddWithValue("shard", home.Key);
            await lockRow.ExecuteNonQueryAsync();
        }

        // Waiting for it could close a circle with that writer, which may be waiting for a row this group holds; the
        // holder's batch is refused at once instead, and its home commits the key itself.
        var refused = ledgers[holder].CommitAsync(Batch(ledgers[holder], holder, 0, Order(holder, "e.ga.1.busy", BlockOf(holder).First))
            with { Keys = [new IdempotencyRecord("busy", "FP", "e.ga.1.busy", Home: forwarded)] });
        Assert.True(await Task.WhenAny(refused, Task.Delay(TimeSpan.FromSeconds(10))) == refused, "The holder's commit waited for the home's row.");
        Assert.Equal(CommitOutcome.KeyConflict("busy"), await refused);
        Assert.Null(await ledgers[holder].ReadOrderAsync("e.ga.1.busy"));

        await holding.RollbackAsync();
        Assert.Equal(CommitOutcome.Committed, await ledgers[holder].CommitAsync(
            Batch(ledgers[holder], holder, 0, Order(holder, "e.ga.1.free", BlockOf(holder).First))
                with { Keys = [new IdempotencyRecord("free", "FP", "e.ga.1.free", Home: forwarded)] }));
        Assert.Equal(new StoredKey(home.Key, "FP", "e.ga.1.free"), await ledgers[home].ReadKeyAsync("free"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_stale_batch_in_a_group_with_a_key_conflict_is_fenced_and_not_told_of_its_key(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var a = new ShardAddress("e", "ga", 0);
        var b = new ShardAddress("e", "ga", 1);
        var c = new ShardAddress("e", "ga", 2);
        var stale = context.Ledger(a);
        await stale.ClaimAsync(BlockOf(a));
        var ledgerB = context.Ledger(b);
        await ledgerB.ClaimAsync(BlockOf(b));
        var ledgerC = context.Ledger(c);
        await ledgerC.ClaimAsync(BlockOf(c));
        Assert.Equal(CommitOutcome.Committed, await stale.CommitAsync(Keyed(stale, a, "k", "a-1")));
        Assert.Equal(CommitOutcome.Committed, await ledgerB.CommitAsync(Keyed(ledgerB, b, "k2", "b-1")));
        // A newer activation of shard a claims it: the old one's next batch can only be fenced.
        await context.Ledger(a).ClaimAsync(BlockOf(a));

        // In one group behind shard c's batch: the stale batch inserts its own key again (as a home whose memory lost
        // it would), and shard b inserts a key the event has, which the database refuses.
        Task<CommitOutcome> busy, fenced, refused;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            busy = ledgerC.CommitAsync(Keyed(ledgerC, c, "k3", "c-1"));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            fenced = stale.CommitAsync(Keyed(stale, a, "k", "a-2", oldSold: 1));
            refused = ledgerB.CommitAsync(Keyed(ledgerB, b, "k2", "b-2", oldSold: 1));
        }

        Assert.Equal(CommitOutcome.Committed, await busy);
        Assert.Equal(CommitOutcome.KeyConflict("k2"), await refused);
        Assert.Equal(CommitOutcome.Fenced, await fenced);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_key_of_a_refused_batch_does_not_count_against_a_later_batch_in_the_group(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var ga = new ShardAddress("e", "ga", 0);
        var vip = new ShardAddress("e", "vip", 0);
        var camping = new ShardAddress("e", "camping", 0);
        var busy = new ShardAddress("e", "ga", 1);
        var ledgers = await context.ClaimEachAsync(ga, vip, camping, busy);
        Assert.Equal(CommitOutcome.Committed, await ledgers[camping].CommitAsync(Keyed(ledgers[camping], camping, "kx", "camping-1")));

        // In one group: ga's batch inserts k1 and then kx, which camping holds, so the whole batch is refused; vip's
        // batch after it inserts k1, which then nobody holds.
        var first = BlockOf(ga).First;
        Task<CommitOutcome> refused, later;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            _ = ledgers[busy].CommitAsync(Keyed(ledgers[busy], busy, "kb", "busy-1"));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            refused = ledgers[ga].CommitAsync(new LedgerBatch(ga, ledgers[ga].Epoch, 0, 2,
                [Order(ga, "ga-1", first), Order(ga, "ga-2", first + 1)],
                [new IdempotencyRecord("k1", "fp", "ga-1"), new IdempotencyRecord("kx", "fp", "ga-2")]));
            later = ledgers[vip].CommitAsync(Keyed(ledgers[vip], vip, "k1", "vip-1"));
        }

        Assert.Equal(CommitOutcome.KeyConflict("kx"), await refused);
        Assert.Equal(CommitOutcome.Committed, await later);
        Assert.Equal(new StoredKey(vip.Key, "fp", "vip-1"), await ledgers[vip].ReadKeyAsync("k1"));
    }

    [Fact]
    public async Task SQLite_drops_every_conflicting_batch_of_a_group_in_one_more_pass()
    {
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var holder = new ShardAddress("e", "vip", 0);
        var busy = new ShardAddress("e", "vip", 1);
        var shards = Enumerable.Range(0, 6).Select(i => new ShardAddress("e", "ga", i)).ToList();
        var ledgers = await context.ClaimEachAsync([holder, busy, .. shards]);
        foreach (var i in new[] { 0, 2, 4 })
        {
            Assert.Equal(CommitOutcome.Committed, await ledgers[holder].CommitAsync(Keyed(ledgers[holder], holder, $"taken{i}", $"vip-{i}", oldSold: i / 2)));
        }
        using var rewrites = context.Collect<long>("orleanstickets.storage.rewrites");

        // One group behind a held write: three batches reuse keys the event holds, between three that do not.
        List<Task<CommitOutcome>> commits;
        await using (await HeldWrites.HoldAsync(context.Database(0)))
        {
            _ = ledgers[busy].CommitAsync(Keyed(ledgers[busy], busy, "kb", "busy-1"));
            await HeldWrites.UntilTakenAsync(context.Database(0));
            commits = [.. shards.Select((shard, i) => ledgers[shard].CommitAsync(
                Keyed(ledgers[shard], shard, i % 2 == 0 ? $"taken{i}" : $"fresh{i}", $"ga{i}-1")))];
        }

        var outcomes = await Task.WhenAll(commits);
        Assert.Equal([CommitOutcome.KeyConflict("taken0"), CommitOutcome.Committed, CommitOutcome.KeyConflict("taken2"),
            CommitOutcome.Committed, CommitOutcome.KeyConflict("taken4"), CommitOutcome.Committed], outcomes);
        for (var i = 0; i < shards.Count; i++)
        {
            Assert.Equal(i % 2 == 1, await ledgers[shards[i]].ReadOrderAsync($"ga{i}-1") is not null);
        }
        // The refused batches' fences were undone with the rest of their writes: each shard's next batch starts at 0.
        Assert.Equal(CommitOutcome.Committed, await ledgers[shards[0]].CommitAsync(Keyed(ledgers[shards[0]], shards[0], "fresh0", "ga0-2")));
        // However many batches conflicted, the group was written twice at most: once whole, once batch by batch.
        Assert.Equal(1L, rewrites.GetMeasurementSnapshot().Sum(m => m.Value));
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

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_database_that_lost_its_rows_is_refused_rather_than_claimed_afresh(string engine)
    {
        // The shard sold serials 101-102; then its database is lost (a disk, a DROP by mistake). Made anew, it would
        // give the shard's next claim no row: its block would start again at sold 0 and sell 101-102 a second time.
        using var storage = Engines.Storage(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        string lostName;
        await using (var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            var ledger = new ShardLedger(databases.Get(0), shard);
            await ledger.ClaimAsync(Block);
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "o1", 101, 102))));
            lostName = databases.ConnectionStringFor(0);
        }
        await LoseDatabaseAsync(engine, lostName);

        await using var again = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        // SQLite's writer thread reports it as its database being unavailable, with the refusal inside.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => new ShardLedger(again.Get(0), shard).ClaimAsync(Block));
        Assert.Contains("Shard database 0 was used before", refused.ToString(), StringComparison.Ordinal);
        // Refused each time it is opened, not only the first.
        await Assert.ThrowsAsync<InvalidOperationException>(() => again.Get(0).EnsureReadyAsync());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_reads_its_own_transfers_and_refusals_by_index_not_by_scanning_every_shard_s(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        await context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(Block);
        await using var connection = await OpenWithoutScansAsync(context, engine);
        // What a shard reads when it loads, as the service sends it: a change to a query is planned here too.
        var loads = new (string Index, string Query)[]
        {
            ("transfers_out_donor", ShardSql.ReadUndelivered), ("transfers_out_donor", ShardSql.ReadSettled),
            ("transfers_in_receiver", ShardSql.ReadTakenIn), ("refused_orders_shard", ShardSql.ReadRefused),
        };
        foreach (var (index, query) in loads)
        {
            Assert.Contains(index, await PlanAsync(connection, engine, query, ("@shard_key", "e/ga/0")));
        }
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_page_reads_its_event_s_orders_by_index_not_past_every_other_event_s(string engine)
    {
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        await context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(Block);
        await using var connection = await OpenWithoutScansAsync(context, engine);
        // The primary key (order_key) alone would give key order, filtering every other event's orders out one by one,
        // and not save order at all: the plan must seek the event's range of the save-order index instead.
        var dialect = engine == Engines.Postgres ? SqlDialect.PostgreSql : SqlDialect.Sqlite;
        var plan = await PlanAsync(connection, engine, ShardSql.For(dialect).ReadOrderPage,
            ("@event_id", "e"), ("@after_mark", 0L), ("@after_key", ""), ("@horizon", long.MaxValue), ("@limit", 100));
        Assert.Contains("orders_saved", plan);
        // And it starts the range at the cursor, rather than reading the event's whole range and filtering it.
        Assert.Contains(engine == Engines.Postgres ? "ROW(save_mark, order_key) > ROW(" : "(save_mark,order_key)>(", plan);
        // The horizon's read (the event's last mark, the last order before the cursor) seeks the same index, not every
        // order of the event.
        var horizon = await PlanAsync(connection, engine, ShardSql.For(dialect).ReadSaveHorizon,
            ("@event_id", "e"), ("@after_mark", 0L), ("@after_key", ""));
        Assert.Contains("orders_saved", horizon);
        Assert.DoesNotContain(engine == Engines.Postgres ? "Seq Scan" : "SCAN orders", horizon);
        // The last order before the cursor: a seek back from the cursor's place, not a walk back over the event's range.
        Assert.Contains(engine == Engines.Postgres ? "ROW(save_mark, order_key) <= ROW(" : "(save_mark,order_key)<(", horizon);
    }

    [PostgresFact]
    public async Task An_export_read_leaves_an_order_committed_behind_a_running_transaction_for_the_next_read_not_past_it()
    {
        // PostgreSQL's transactions commit in any order: a slow writer (another silo's group, a commit waiting on its
        // standby) can commit an order below the marks of orders already read. The read stops below the oldest
        // transaction still running, so the place it hands on comes before that order.
        await using var context = await LedgerContext.CreateAsync(Engines.Postgres, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.first");
        await using var slow = await context.Database(0).OpenAsync();
        await using var running = await slow.BeginTransactionAsync();
        await using (var insert = slow.CreateCommand())
        {
            insert.Transaction = running;
            insert.CommandText =
                "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, unit_price_cents, " +
                "currency, buyer_name, buyer_email, created_at_ms) VALUES ('slow', 'e.ga.0.slow', 'e/ga/0', 'e', 'ga', 1, 109, 1250, 'EUR', 'Ada', 'ada@example.com', 0)";
            await insert.ExecuteNonQueryAsync();
        }
        await SellOneEachAsync(ledger, shard, 1, "e.ga.0.later");

        var (first, firstFull, reached) = (await ReadExportAsync(context, SavePosition.Start))!;
        await running.CommitAsync();
        var (second, secondFull, _) = (await ReadExportAsync(context, reached))!;

        Assert.Equal(["e.ga.0.first"], first.Select(o => o.OrderId));
        Assert.Equal(["e.ga.0.slow", "e.ga.0.later"], second.Select(o => o.OrderId));
        Assert.False(firstFull || secondFull);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_read_from_a_place_past_the_database_s_horizon_is_refused_not_read_on(string engine)
    {
        // No read hands out a place past its horizon, and horizons never go back; a database whose marks went back (a
        // backup put back, a move to another server) would save new orders behind such a place, passed over for good.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.first");
        var read = (await ReadExportAsync(context, SavePosition.Start))!;

        Assert.NotNull(await ReadExportAsync(context, read.Reached));
        Assert.Null(await ReadExportAsync(context, read.Reached with { Mark = read.Reached.Mark + 1_000_000 }));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task An_export_read_from_a_place_whose_last_order_is_gone_is_refused_even_when_new_orders_took_its_mark(string engine)
    {
        // A backup put back: the database forgot o2 and o3, and new orders took their marks (SQLite numbers an event's
        // orders on from its last, so n4 and n5 get o2's and o3's, behind the place a read handed out, and n6 the place's
        // own). Read on from the place, n4 and n5 would be passed over for good. (On PostgreSQL marks are the server's
        // transaction ids and new ones lie past the place; the missing o3 gives the restore away all the same.)
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        await SellOneEachAsync(ledger, shard, 0, "e.ga.0.o1", "e.ga.0.o2", "e.ga.0.o3");
        var read = (await ReadExportAsync(context, SavePosition.Start))!;
        Assert.Equal((3, SavePosition.WitnessOf("o3")), (read.Orders.Count, read.Reached.LastGiven));
        await context.ExecuteAsync("DELETE FROM orders WHERE order_key IN ('o2', 'o3')");
        await SellOneEachAsync(ledger, shard, 3, "e.ga.0.n4", "e.ga.0.n5", "e.ga.0.n6");

        Assert.Null(await ReadExportAsync(context, read.Reached));
        // From the start, every order there is.
        var again = (await ReadExportAsync(context, SavePosition.Start))!;
        Assert.Equal(["e.ga.0.n4", "e.ga.0.n5", "e.ga.0.n6", "e.ga.0.o1"], again.Orders.Select(o => o.OrderId).Order());
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_database_from_before_orders_had_save_marks_gets_them_and_exports_its_orders_before_new_ones(string engine)
    {
        // The orders table as builds before the eighty-fourth session made it (no save_mark), with orders in it: the
        // service adds the marks and reads those orders first, then the orders it commits.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        await context.Ledger(shard).ClaimAsync(Block);
        await context.ExecuteAsync("DROP INDEX orders_saved");
        await context.ExecuteAsync("ALTER TABLE orders DROP COLUMN save_mark");
        await context.ExecuteAsync("CREATE INDEX orders_event ON orders (event_id, order_key)");
        foreach (var key in new[] { "zz-old", "aa-old" })
        {
            await context.ExecuteAsync(
                "INSERT INTO orders (order_key, order_id, shard_key, event_id, ticket_type_id, quantity, first_serial, unit_price_cents, " +
                $"currency, buyer_name, buyer_email, created_at_ms) VALUES ('{key}', 'e.ga.0.{key}', 'e/ga/0', 'e', 'ga', 1, 101, 1250, 'EUR', 'Ada', 'ada@example.com', 0)");
        }

        await using var upgraded = await LedgerContext.CreateAsync(engine, postgres, storage: context.Storage);
        var ledger = upgraded.Ledger(shard);
        await ledger.ClaimAsync(Block);
        var (old, _, reached) = (await upgraded.Database(0).ReadOrderPageAsync("e", SavePosition.Start, 100, 10_000, firstOrderAlways: true))!;
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "e.ga.0.new", 102))));
        var (added, _, _) = (await upgraded.Database(0).ReadOrderPageAsync("e", reached, 100, 10_000, firstOrderAlways: true))!;

        Assert.Equal(["e.ga.0.aa-old", "e.ga.0.zz-old"], old.Select(o => o.OrderId).Order());
        Assert.Equal(["e.ga.0.new"], added.Select(o => o.OrderId));
        Assert.Equal(0, await upgraded.CountAsync(engine == Engines.Sqlite
            ? "SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders_event'"
            : "SELECT COUNT(*) FROM pg_class WHERE relname = 'orders_event'"));
    }

    /// <summary>
    /// Shard database 0, where on PostgreSQL the planner may not scan a table: its tables are nearly empty, where a scan
    /// is cheapest, so a plan then shows whether an index exists.
    /// </summary>
    private static async Task<DbConnection> OpenWithoutScansAsync(LedgerContext context, string engine)
    {
        var connection = await context.Database(0).OpenAsync();
        if (engine == Engines.Postgres)
        {
            await using var noScans = connection.CreateCommand();
            // Shard connections skip the session reset, so this stays on the pooled connection: the tests using it read
            // nothing else through this context's pool, and the context (its databases) is gone after them.
            noScans.CommandText = "SET enable_seqscan = off";
            await noScans.ExecuteNonQueryAsync();
        }
        return connection;
    }

    /// <summary>The engine's plan for <paramref name="query"/>, as text.</summary>
    private static async Task<string> PlanAsync(DbConnection connection, string engine, string query, params (string Name, object Value)[] parameters)
    {
        await using var explain = connection.CreateCommand();
        explain.CommandText = (engine == Engines.Postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + query;
        foreach (var (name, value) in parameters)
        {
            var parameter = explain.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            explain.Parameters.Add(parameter);
        }
        var plan = new System.Text.StringBuilder();
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync()) plan.AppendLine(Convert.ToString(reader.GetValue(reader.FieldCount - 1)));
        return plan.ToString();
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_that_checked_a_database_before_it_was_emptied_cannot_claim_in_it(string engine)
    {
        // This silo opened and checked the database, then it was replaced by an empty one with the same tables (another
        // silo made it again and refused it, too late for this one, whose check ran once): its next claim must not
        // start the shard again at sold 0.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        foreach (var table in new[] { "shard_database_identity", "shard_state", "orders", "tickets" }) await context.ExecuteAsync($"DELETE FROM {table}");

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("no identity stamp", refused.ToString(), StringComparison.Ordinal);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_silo_that_checked_a_database_before_it_was_swapped_for_another_cannot_claim_in_it(string engine)
    {
        // This silo checked the database, then another deployment's was put in its place (a restore from the wrong
        // place): it has a stamp, but not the one checked, and the check runs once per process. Played by changing the
        // stamp: first with the shard's row still there, then with the rows gone, where a claim would start the block
        // again at sold 0 and sell serials (and ticket codes) that acknowledged buyers hold.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var holder = await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        Assert.Equal(1, await context.ExecuteAsync("UPDATE shard_database_identity SET stamp = 'another-deployment'"));

        await Assert.ThrowsAsync<ShardClaimLostException>(() => holder.ClaimAsync(Block));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("not the one this silo checked", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(1L, await context.CountAsync("SELECT epoch FROM shard_state"));

        foreach (var table in new[] { "shard_state", "orders", "tickets" }) await context.ExecuteAsync($"DELETE FROM {table}");
        await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Equal(0L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_whose_row_vanished_after_it_sold_is_not_claimed_afresh(string engine)
    {
        // The database keeps its identity stamp, but the shard's row is gone (a DELETE by mistake). Neither the holder's
        // claim again nor a new activation's first claim may insert a fresh row: the shard would sell its block from
        // sold 0 a second time (the tickets' primary key would then refuse every such sale, and the shard would be stuck).
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = await ClaimAndSellAsync(context, shard, "o1", 101, 102);
        Assert.Equal(1, await context.ExecuteAsync("DELETE FROM shard_state"));

        var lost = await Assert.ThrowsAsync<ShardClaimLostException>(() => ledger.ClaimAsync(Block));
        Assert.Contains("at epoch 1:", lost.Message);
        // The next activation's first claim must not insert one either: the block's sold tickets show a row existed.
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(shard).ClaimAsync(Block));
        Assert.Contains("holds sold tickets or gifts of the shard", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(0L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_shard_whose_row_vanished_after_it_only_gave_tickets_away_is_not_claimed_afresh(string engine)
    {
        // The donor sold nothing itself: its serials were sold, if at all, by the receiver, perhaps in another database.
        // Only its gift shows here that it had a row.
        await using var context = await LedgerContext.CreateAsync(engine, postgres);
        var (donor, receiver) = (new ShardAddress("e", "ga", 0), new ShardAddress("e", "ga", 1));
        var ledgers = await context.ClaimEachAsync(donor, receiver);
        var gift = new TicketTransfer("t1", donor.Key, [new SerialSegment(109, 2)]);
        Assert.Equal(CommitOutcome.Committed, await ledgers[donor].CommitAsync(Changing(ledgers[donor], donor, 8, "101+8",
            transfersOut: [new OutgoingTransfer(receiver.Key, gift)])));
        Assert.Equal(1, await context.ExecuteAsync($"DELETE FROM shard_state WHERE shard_key = '{donor.Key}'"));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => context.Ledger(donor).ClaimAsync(BlockOf(donor)));
        Assert.Contains("holds sold tickets or gifts of the shard", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal(1L, await context.CountAsync("SELECT COUNT(*) FROM shard_state"));
    }

    [Fact]
    public async Task A_shard_database_of_another_data_folder_is_refused()
    {
        // Two deployments' files swapped by hand: the copy holds the other catalog's shards and serials.
        using var mine = TestStorage.Sqlite();
        using var theirs = TestStorage.Sqlite();
        string myFile, theirFile;
        await using (var databases = new ShardDatabases(Options.Create(mine.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            await databases.Get(0).EnsureReadyAsync();
            myFile = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource;
        }
        await using (var databases = new ShardDatabases(Options.Create(theirs.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance))
        {
            await databases.Get(0).EnsureReadyAsync();
            theirFile = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource;
        }
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "-wal", "-shm" }) File.Delete(myFile + suffix);
        File.Copy(theirFile, myFile, overwrite: true);

        await using var again = new ShardDatabases(Options.Create(mine.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => again.Get(0).EnsureReadyAsync());
        Assert.Contains("is not the one this catalog recorded", refused.Message, StringComparison.Ordinal);
    }

    private async Task LoseDatabaseAsync(string engine, string connectionString)
    {
        if (engine == Engines.Sqlite)
        {
            // The process-wide pool would otherwise keep the deleted file open.
            SqliteConnection.ClearAllPools();
            var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
            foreach (var part in new[] { file, file + "-wal", file + "-shm" }.Where(File.Exists)) File.Delete(part);
            return;
        }
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(postgres.Server.ConnectionString());
        await admin.OpenAsync();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_shard_database_from_before_orders_were_keyed_is_refused_by_name(string engine) =>
        // The orders table as builds before the ninth session created it: keyed by the whole id, no order_key.
        AssertOlderLayoutRefusedAsync(engine, "orders", "CREATE TABLE orders (order_id TEXT NOT NULL PRIMARY KEY, shard_key TEXT NOT NULL)",
            "order_id,shard_key", "order_key");

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public Task A_shard_database_from_before_keys_were_stored_by_event_is_refused_by_name(string engine) =>
        // The keys table as builds before the tenth session created it: keyed by shard and key, no event_id.
        AssertOlderLayoutRefusedAsync(engine, "idempotency_keys",
            "CREATE TABLE idempotency_keys (shard_key TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, " +
            "order_id TEXT NOT NULL, PRIMARY KEY (shard_key, idem_key))",
            "shard_key,idem_key,fingerprint,order_id", "event_id");

    private async Task AssertOlderLayoutRefusedAsync(string engine, string table, string createOldTable, string oldColumns, string missingColumn)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        await using (var old = await OpenFirstShardDatabaseAsync(engine, databases, create: true))
        {
            await using var create = old.CreateCommand();
            create.CommandText = createOldTable;
            await create.ExecuteNonQueryAsync();
        }

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => databases.Get(0).EnsureReadyAsync());
        Assert.Contains($"{table} table has no {missingColumn}", refused.Message, StringComparison.Ordinal);

        // The old table is left as it was.
        await using var check = await OpenFirstShardDatabaseAsync(engine, databases, create: false);
        await using var columns = check.CreateCommand();
        columns.CommandText = engine == Engines.Sqlite
            ? $"SELECT group_concat(name) FROM pragma_table_info('{table}')"
            : $"SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '{table}'";
        Assert.Equal(oldColumns, await columns.ExecuteScalarAsync());
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

    [Fact]
    public async Task A_sqlite_writer_that_cannot_prepare_its_statements_leaves_no_connection_open_at_each_try()
    {
        // A layout the refusal does not catch (it probes two columns) but the writer's statements do: its orders
        // table has no currency, so every open of the writer fails part way, and every commit or claim tries again.
        using var storage = TestStorage.Sqlite();
        await using var databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(), NullLoggerFactory.Instance);
        await using (var old = await OpenFirstShardDatabaseAsync(Engines.Sqlite, databases, create: true))
        {
            await using var create = old.CreateCommand();
            create.CommandText =
                "CREATE TABLE orders (order_key TEXT NOT NULL PRIMARY KEY, order_id TEXT NOT NULL, shard_key TEXT NOT NULL, " +
                "event_id TEXT NOT NULL, ticket_type_id TEXT NOT NULL, quantity INTEGER NOT NULL, first_serial INTEGER NOT NULL, " +
                "serial_segments TEXT, unit_price_cents INTEGER NOT NULL, buyer_name TEXT NOT NULL, buyer_email TEXT NOT NULL, " +
                "created_at_ms INTEGER NOT NULL)";
            await create.ExecuteNonQueryAsync();
        }
        var file = Path.GetFullPath(new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)).DataSource);
        var ledger = new ShardLedger(databases.Get(0), new ShardAddress("e", "ga", 0));
        await Assert.ThrowsAnyAsync<Exception>(() => ledger.ClaimAsync(Block));

        // Counted after the first try, which leaves the pool's own connection open. A leaked connection holds its
        // database file (and the WAL's) until a collection finalizes it, so 20 leaks would show as 20 or more.
        var before = OpenHandlesTo(file);
        // Without a handle seen here, the count below would hold however many leaked (a path read another way).
        Assert.True(before > 0, $"no open handle to {file} was found in /proc/self/fd");
        for (var attempt = 0; attempt < 20; attempt++) await Assert.ThrowsAnyAsync<Exception>(() => ledger.ClaimAsync(Block));
        Assert.InRange(OpenHandlesTo(file), 0, before + 2);
    }

    /// <summary>This process's open file descriptors on <paramref name="file"/> and its WAL and shared-memory files.</summary>
    private static int OpenHandlesTo(string file) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(descriptor => descriptor.LinkTarget is { } target && target.StartsWith(file, StringComparison.Ordinal));

    /// <summary>
    /// Opens shard database 0 where <paramref name="databases"/> would, without its schema, after creating it when
    /// asked; unpooled, so nothing stays open behind the test's back.
    /// </summary>
    private async Task<DbConnection> OpenFirstShardDatabaseAsync(string engine, ShardDatabases databases, bool create)
    {
        DbConnection connection;
        if (engine == Engines.Sqlite)
        {
            var file = new SqliteConnectionStringBuilder(databases.ConnectionStringFor(0)) { Pooling = false };
            Directory.CreateDirectory(Path.GetDirectoryName(file.DataSource)!);
            connection = new SqliteConnection(file.ConnectionString);
        }
        else
        {
            var server = new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(0)) { Pooling = false };
            if (create) await postgres.Server.CreateDatabaseAsync(server.Database!);
            connection = new NpgsqlConnection(server.ConnectionString);
        }
        await connection.OpenAsync();
        return connection;
    }

    [PostgresFact]
    public async Task A_postgres_database_whose_sessions_commit_asynchronously_is_refused()
    {
        // synchronous_commit=off acknowledges a commit before its WAL is flushed: a crash of the server then loses
        // orders the buyers were told about. Set here for every session through the connection string.
        var storage = TestStorage.Postgres(postgres.Server);
        storage.Settings["Storage:ConnectionString"] += ";Options=-c synchronous_commit=off";
        await using var context = LedgerContext.Create(storage);

        var error = await Record.ExceptionAsync(() => context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(new SerialBlock(First: 1, Size: 10)));

        Assert.NotNull(error);
        Assert.Contains("synchronous_commit=off", error.ToString());
    }

    [PostgresFact]
    public async Task A_postgres_shard_database_in_LATIN1_is_refused_before_anything_is_written_to_it()
    {
        // Made in LATIN1 by an operator's hand: a buyer named 李 would be refused only at commit, together with every
        // order grouped with theirs. The database is refused when it is opened instead, by name.
        var storage = TestStorage.Postgres(postgres.Server);
        var shard = new ShardAddress("e", "ga", 0);
        string name;
        await using (var refused = LedgerContext.Create(storage))
        {
            name = refused.ShardDatabaseName(0);
            await postgres.Server.CreateDatabaseAsync(name, encoding: "LATIN1");

            var error = await Record.ExceptionAsync(() => refused.Ledger(shard).ClaimAsync(Block));

            Assert.NotNull(error);
            Assert.Contains("Shard database 0 is in the LATIN1 encoding", error.ToString());
        }
        // Nothing was written to it (no tables, no stamp), so the way out the message gives works: dropped, it is made
        // anew in UTF-8 and sells. Stamped first, it was refused for ever as a database that had lost its rows.
        await using (var admin = new NpgsqlConnection(postgres.Server.ConnectionString()))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{name}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        await using var context = LedgerContext.Create(storage);
        await AssertKeepsAnyNameAsync(context);
    }

    [PostgresFact]
    public async Task A_postgres_shard_database_in_SQL_ASCII_stores_any_name_as_sent_and_is_kept()
    {
        // initdb under a C locale makes SQL_ASCII the default, and earlier builds created shard databases in it. It
        // converts nothing, so the driver's UTF-8 is stored and read back as sent.
        await using var context = LedgerContext.Create(TestStorage.Postgres(postgres.Server));
        await postgres.Server.CreateDatabaseAsync(context.ShardDatabaseName(0), encoding: "SQL_ASCII");

        await AssertKeepsAnyNameAsync(context);
    }

    [PostgresFact]
    public async Task On_a_server_whose_databases_default_to_LATIN1_the_service_creates_its_databases_in_UTF8()
    {
        await using var server = new PostgresServer(encoding: "LATIN1");
        await server.StartAsync();
        await using var context = LedgerContext.Create(TestStorage.Postgres(server));

        await AssertKeepsAnyNameAsync(context);
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        await using var encodings = new NpgsqlCommand(
            "SELECT datname, pg_encoding_to_char(encoding) FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')",
            connection);
        var created = new Dictionary<string, string>();
        await using (var reader = await encodings.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) created.Add(reader.GetString(0), reader.GetString(1));
        }
        // The catalog database and shard database 0, both made by the service.
        Assert.Equal(2, created.Count);
        Assert.Contains(context.ShardDatabaseName(0), created.Keys);
        Assert.All(created.Values, encoding => Assert.Equal("UTF8", encoding));
    }

    [Fact]
    public async Task Sqlite_shard_connections_are_in_WAL_mode_with_synchronous_FULL()
    {
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var database = context.Database(0);
        await database.EnsureReadyAsync();

        await using var connection = await database.OpenAsync();
        await using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await check.ExecuteScalarAsync());
        check.CommandText = "PRAGMA synchronous;";
        Assert.Equal(2L, (long?)await check.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_sqlite_writer_refuses_to_commit_on_a_file_taken_out_of_WAL_mode()
    {
        // Someone switched the file back to a rollback journal while the service was away. The writer's commits would
        // still be durable in that mode, but not in the way the writer's settings were chosen for; it says so
        // instead of selling on it. The same check catches a connection that did not get synchronous=FULL.
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var database = context.Database(0);
        await database.EnsureReadyAsync();
        var file = Path.Combine(context.Folder!, "shards", "shard_0000.db");
        // The database's own idle pooled connection keeps the WAL open, which blocks the change.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using (var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False"))
        {
            await other.OpenAsync();
            await using var mode = other.CreateCommand();
            mode.CommandText = "PRAGMA journal_mode=DELETE;";
            Assert.Equal("delete", (string?)await mode.ExecuteScalarAsync());
        }

        var error = await Record.ExceptionAsync(() => context.Ledger(new ShardAddress("e", "ga", 0)).ClaimAsync(new SerialBlock(First: 1, Size: 10)));

        var unavailable = Assert.IsType<ShardDatabaseUnavailableException>(error);
        Assert.Contains("journal_mode=delete", unavailable.InnerException!.Message);
    }

    [Fact]
    public async Task The_sqlite_writer_checkpoints_less_often_than_sqlite_by_default()
    {
        // SQLite checkpoints once the WAL holds 1,000 pages, then reuses the file from its start, so by default the
        // WAL file stays near 1,000 pages. The writer allows 8,192 (TicketStorageOptions.SqliteCheckpointPages): 60 commits
        // of 40 one-page orders each must leave about 2,400 pages in it.
        const int PageBytes = 4096;
        await using var context = await LedgerContext.CreateAsync(Engines.Sqlite, postgres);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(new SerialBlock(First: 1, Size: 10_000));
        var bulky = new Buyer(new string('b', PageBytes), "ada@example.com");
        var sold = 0L;
        for (var commit = 0; commit < 60; commit++)
        {
            var orders = Enumerable.Range(0, 40)
                .Select(i => Order(shard, $"o{sold + i}", 1 + sold + i) with { Buyer = bulky })
                .ToList();
            var batch = new LedgerBatch(shard, ledger.Epoch, sold, sold + orders.Count, orders, []);
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(batch));
            sold += orders.Count;
        }

        var wal = new FileInfo(Path.Combine(context.Folder!, "shards", "shard_0000.db-wal"));
        Assert.True(wal.Length > 2_000L * PageBytes, $"The WAL holds {wal.Length / PageBytes} pages.");
    }

    private static LedgerBatch Keyed(ShardLedger ledger, ShardAddress shard, string key, string orderId, long oldSold = 0) =>
        new(shard, ledger.Epoch, oldSold, oldSold + 1, [Order(shard, orderId, BlockOf(shard).First + oldSold)], [new IdempotencyRecord(key, "fp", orderId)]);

    /// <summary>A batch that changes the shard's inventory to <paramref name="capacity"/> and <paramref name="segments"/>, with one order or none.</summary>
    private static LedgerBatch Changing(
        ShardLedger ledger, ShardAddress shard, long capacity, string segments, bool retired = false,
        IReadOnlyList<OutgoingTransfer>? transfersOut = null, IReadOnlyList<TicketTransfer>? transfersIn = null,
        IReadOnlyList<string>? delivered = null, IReadOnlyList<string>? refusals = null, OrderDetails? order = null) =>
        new(shard, ledger.Epoch, 0, order?.Quantity ?? 0, order is null ? [] : [order], [],
            new InventoryChanges(capacity, segments, retired, transfersOut ?? [], transfersIn ?? [], delivered ?? [], refusals ?? []));

    private static LedgerBatch KeysOnly(ShardLedger ledger, ShardAddress shard, params IdempotencyRecord[] keys) =>
        new(shard, ledger.Epoch, 0, 0, [], keys);

    /// <summary>
    /// Claims shard e/ga/0 of shard database 0 and sells it an order whose buyer's name and address are far from ASCII;
    /// they read back as sent.
    /// </summary>
    private static async Task AssertKeepsAnyNameAsync(LedgerContext context)
    {
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        var order = Order(shard, "o1", 101) with { Buyer = new Buyer("李小龍 Zoë", "zoë@例え.jp") };

        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, order)));
        Assert.Equal(order.Buyer, (await ledger.ReadOrderAsync("o1"))!.Buyer);
    }

    /// <summary>A ledger that claimed <paramref name="shard"/> and committed its first order, of <paramref name="serials"/>.</summary>
    private static async Task<ShardLedger> ClaimAndSellAsync(LedgerContext context, ShardAddress shard, string orderId, params long[] serials)
    {
        var ledger = context.Ledger(shard);
        await ledger.ClaimAsync(Block);
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, orderId, serials))));
        return ledger;
    }

    // Shards of one type own disjoint blocks, as in a real event.
    /// <summary>
    /// The commit fails because the database itself refused its rows (an integrity constraint), not because a check in
    /// our code, a closed connection or anything else stopped it first: that refusal is what the tests above are about.
    /// </summary>
    private static async Task AssertRowsRefusedAsync(Func<Task> commit)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(commit);
        Assert.True(
            ExceptionCauses.Of(error).Any(cause => cause is PostgresException { SqlState: ['2', '3', ..] } or SqliteException { SqliteErrorCode: 19 }),
            $"The database did not refuse the rows; the commit failed with {error}");
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task Lookups_take_at_most_half_of_a_database_s_pool_and_leave_the_sale_s_reads_the_rest(string engine)
    {
        // Buyers refreshing their order pages during a sale: five lookups at once on a pool of four connections.
        var storage = Engines.Storage(engine, postgres);
        storage.Settings["Storage:MaxConnectionsPerDatabase"] = "4";
        await using var context = LedgerContext.Create(storage);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = (await context.ClaimEachAsync(shard))[shard];
        Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, 0, Order(shard, "kept", 101))));
        var database = context.Database(0);
        Assert.Equal(2, database.LookupConnections);

        var crowd = new HeldLookups();
        var lookups = Enumerable.Range(0, 5).Select(_ => crowd.Start(database)).ToList();
        await crowd.UntilInsideAsync(2);

        // The sale's reads find the connections the lookups may not take. Without the limit, on PostgreSQL the crowd held
        // the whole pool, and these waited for Npgsql's pool timeout and failed.
        Assert.Null(await ledger.ReadKeyAsync("absent"));
        Assert.Equal("kept", (await ledger.ReadOrderAsync("kept"))?.OrderId);
        // A lookup past the limit waits its longest, then hears that the database is busy.
        await Assert.ThrowsAsync<ShardDatabaseBusyException>(() => ledger.LookUpOrderAsync("kept"));

        crowd.Release();
        var outcomes = await Task.WhenAll(lookups.Select(async lookup =>
        {
            try
            {
                return await lookup ? "read" : "none";
            }
            catch (ShardDatabaseBusyException)
            {
                return "busy";
            }
        }));
        // The three that waited timed out; one whose time-out was still being handled when the two let go may have read.
        Assert.Equal(5, outcomes.Count(o => o is "read" or "busy"));
        // (The lookup above, which waited its longest, is what shows that waiting ends: a limiter whose waits never time
        // out holds it for good. Here the three timed out too, but a time-out is handled by a continuation of its own, and
        // on a starved thread pool any of them may still be queued when the two let go, and read.)
        Assert.InRange(outcomes.Count(o => o == "read"), 2, 5);
        Assert.Equal(2, crowd.Most);
        Assert.Equal("kept", (await ledger.LookUpOrderAsync("kept"))?.OrderId);
    }

    [Fact]
    public async Task A_lookup_past_the_waiting_limit_is_refused_at_once()
    {
        var storage = TestStorage.Sqlite();
        // Waiting ones that gave up on a slow machine would free their places: none does here.
        storage.Settings["Storage:LookupWaitMilliseconds"] = "60000";
        await using var context = LedgerContext.Create(storage);
        var shard = new ShardAddress("e", "ga", 0);
        var ledger = (await context.ClaimEachAsync(shard))[shard];
        var database = context.Database(0);
        // The lookup connections held, and as many lookups waiting behind them as the limit allows.
        var crowd = new HeldLookups();
        var lookups = Enumerable.Range(0, database.MaxLookupsWaiting).Select(_ => crowd.Start(database)).ToList();
        await crowd.UntilInsideAsync(database.LookupConnections);

        // Refused before any of the waiting ones has waited its longest: it joins no queue.
        var refused = await Assert.ThrowsAsync<ShardDatabaseBusyException>(() => ledger.LookUpOrderAsync("any"));
        Assert.Contains("reading or waiting already", refused.Message);
        Assert.DoesNotContain(lookups, lookup => lookup.IsCompleted);

        crowd.Release();
        Assert.All(await Task.WhenAll(lookups), Assert.True);
        Assert.Null(await ledger.LookUpOrderAsync("any"));
    }

    /// <summary>Commits a one-ticket order per id, in turn, on a ledger that claimed <paramref name="shard"/>, after <paramref name="soldBefore"/> tickets.</summary>
    private static async Task SellOneEachAsync(ShardLedger ledger, ShardAddress shard, long soldBefore, params string[] orderIds)
    {
        for (var i = 0; i < orderIds.Length; i++)
        {
            var sold = soldBefore + i;
            Assert.Equal(CommitOutcome.Committed, await ledger.CommitAsync(Batch(ledger, shard, sold, Order(shard, orderIds[i], Block.First + sold))));
        }
    }

    /// <summary>One export read of event e on database 0, after <paramref name="after"/>, room for everything a test sells.</summary>
    private static Task<SavedOrders?> ReadExportAsync(LedgerContext context, SavePosition after) =>
        context.Database(0).ReadOrderPageAsync("e", after, 100, 10_000, firstOrderAlways: true);

    private static SerialBlock BlockOf(ShardAddress shard) => new(First: 101 + shard.Index * 10, Size: 10);

    private static LedgerBatch Batch(ShardLedger ledger, ShardAddress shard, long oldSold, OrderDetails order) =>
        new(shard, ledger.Epoch, oldSold, oldSold + order.Quantity, [order], []);

    private static OrderDetails Order(ShardAddress shard, string id, params long[] serials) =>
        new(id, shard.EventId, shard.TicketTypeId, serials.Length, 12.5m, 12.5m * serials.Length, "EUR",
            new Buyer("Ada", "ada@example.com"), [.. serials.Select(s => new TicketDetails($"{id}-code-{s}", s))],
            DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    /// <summary>Runs an action, on the logging thread, each time a message containing <paramref name="text"/> is logged.</summary>
    private sealed class LogHook(string text, Action action) : ILoggerProvider, ILogger
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!formatter(state, exception).Contains(text, StringComparison.Ordinal)) return;
            Interlocked.Increment(ref _calls);
            action();
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Shard databases for one test, all shards mapped to database 0 so they share it.</summary>
    private sealed class LedgerContext : IAsyncDisposable
    {
        private readonly TestStorage _storage;
        private readonly ShardDatabases _databases;

        private readonly ILoggerFactory _loggers;
        private bool _ownsStorage = true;

        private LedgerContext(TestStorage storage, ILoggerProvider? logs)
        {
            _storage = storage;
            _loggers = logs is null ? NullLoggerFactory.Instance : LoggerFactory.Create(builder => builder.AddProvider(logs));
            _databases = new ShardDatabases(Options.Create(storage.Options), SaleMetrics.Detached(scope: this), _loggers);
        }

        public static Task<LedgerContext> CreateAsync(string engine, PostgresFixture postgres, ILoggerProvider? logs = null) =>
            Task.FromResult(new LedgerContext(Engines.Storage(engine, postgres), logs));

        /// <summary>
        /// A second context over <paramref name="storage"/>'s databases (a silo started again on them); it leaves the
        /// storage for its owner to dispose.
        /// </summary>
        public static Task<LedgerContext> CreateAsync(string engine, PostgresFixture postgres, TestStorage storage) =>
            Task.FromResult(new LedgerContext(storage, logs: null) { _ownsStorage = false });

        /// <summary>The databases' settings, for a second context over them.</summary>
        public TestStorage Storage => _storage;

        public static LedgerContext Create(TestStorage storage) => new(storage, logs: null);

        /// <summary>The name of PostgreSQL shard database <paramref name="ordinal"/>, as the service derives it.</summary>
        public string ShardDatabaseName(int ordinal) => _databases.PostgresDatabaseName(ordinal);

        public ShardLedger Ledger(ShardAddress shard) => new(_databases.Get(0), shard);

        public ShardDatabase Database(int ordinal) => _databases.Get(ordinal);

        /// <summary>Runs <paramref name="sql"/> on shard database 0 from outside the service (an operator's hand, a mistake).</summary>
        public async Task<int> ExecuteAsync(string sql)
        {
            await using var connection = await _databases.Get(0).OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return await command.ExecuteNonQueryAsync();
        }

        /// <summary>The count <paramref name="sql"/> selects on shard database 0.</summary>
        public async Task<long> CountAsync(string sql)
        {
            await using var connection = await _databases.Get(0).OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(await command.ExecuteScalarAsync());
        }

        /// <summary>Collects one instrument of this context's storage metrics.</summary>
        public MetricCollector<T> Collect<T>(string instrument) where T : struct => new(this, TicketingMeter.Name, instrument);

        /// <summary>A ledger per shard, each having claimed its shard with the block <paramref name="blockOf"/> gives it.</summary>
        public async Task<List<ShardLedger>> ClaimAllAsync(IEnumerable<ShardAddress> shards, Func<ShardAddress, SerialBlock> blockOf)
        {
            var ledgers = new List<ShardLedger>();
            foreach (var shard in shards)
            {
                var ledger = Ledger(shard);
                await ledger.ClaimAsync(blockOf(shard));
                ledgers.Add(ledger);
            }
            return ledgers;
        }

        /// <summary>A ledger per shard, by address, each having claimed its shard with its usual block (<see cref="BlockOf"/>).</summary>
        public async Task<Dictionary<ShardAddress, ShardLedger>> ClaimEachAsync(params ShardAddress[] shards) =>
            shards.Zip(await ClaimAllAsync(shards, BlockOf)).ToDictionary(pair => pair.First, pair => pair.Second);

        /// <summary>The SQLite files' folder; null on PostgreSQL.</summary>
        public string? Folder => _storage.Folder;

        public async ValueTask DisposeAsync()
        {
            await _databases.DisposeAsync();
            _loggers.Dispose();
            if (_ownsStorage) _storage.Dispose();
        }
    }
}
