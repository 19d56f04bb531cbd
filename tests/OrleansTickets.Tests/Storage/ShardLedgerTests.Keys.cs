using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>Orders and idempotency keys: one key per event, moved only from the order it points at, and a holder's record of its home's key fenced by the home's epoch.</summary>
public sealed partial class ShardLedgerTests
{
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
}
