using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>Claims and fencing: each activation's claim takes a new epoch, and a commit of an older one writes nothing.</summary>
public sealed partial class ShardLedgerTests
{
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
}
