using Npgsql;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A home that forwards a new key's order to a shard on its own database sends it straight, without asking for room,
/// and lets that shard record the key with the order, in one commit, fenced by the home's epoch; a refusal writes
/// nothing, a shard that cannot take it is passed over, one that does not answer is asked first for a while; a stale
/// home's forward is refused, and nothing is made for it.
/// </summary>
/// <remarks>
/// 8 shards of 6 tickets on the default 4 databases: shard i is on database i mod 4, so shards 0 and 4 share one. At most
/// 2 tickets an order, so a shard left with 2 or more does not give them to a collector (shard 4's is shard 0).
/// </remarks>
[Collection(PostgresKeysCollection.Name)]
public sealed class OneCommitForwardTests(PostgresFixture postgres, ITestOutputHelper output)
{
    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_home_forwards_a_new_key_s_order_to_a_shard_on_its_database_in_one_commit_that_records_the_key(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("one", TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
        var (home, holder) = (await cluster.LedgerAsync("one", "ga", 0), await cluster.LedgerAsync("one", "ga", 4));
        Assert.Equal(home.Placement.DatabaseOrdinal, holder.Placement.DatabaseOrdinal);
        var shard = cluster.Shard("one", "ga", 0);
        for (var i = 0; i < 3; i++) Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("one", "ga", 2))).Status);
        Assert.Equal(6L, await cluster.Shard("one", "ga", 4).GetSellable());

        using var commits = cluster.CollectMetric<long>("orleanstickets.storage.commits");
        using var questions = cluster.CollectMetric<long>("orleanstickets.shards.room_questions");
        var keyed = Request("together");
        var created = await shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Created, created.Status);
        Assert.True(OrderId.TryGetShard(created.Order!.OrderId, out var seller));
        Assert.Equal(4, seller.Index);
        Assert.Equal(1L, commits.GetMeasurementSnapshot().Sum(m => m.Value));
        // Sent straight: nothing is written before it, so a question for room would only add a round trip.
        Assert.Empty(questions.GetMeasurementSnapshot());
        Assert.Equal(new StoredKey(home.Placement.Address.Key, keyed.Fingerprint(), created.Order.OrderId), await home.Ledger.ReadKeyAsync("together"));

        // The home answers the key's retries from the row the holder wrote.
        var replay = await shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Replayed, replay.Status);
        Assert.Equal(created.Order, replay.Order, OrderComparer.Instance);

        // Named as elsewhere, the same candidate takes the home's reservation first: two commits.
        commits.Clear();
        var apart = Request("apart");
        var twice = await shard.Purchase(new ShardPurchase(apart, apart.Fingerprint(), [4]));
        Assert.Equal(PurchaseStatus.Created, twice.Status);
        Assert.Equal(2L, commits.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1L, questions.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(8L, (await cluster.SalesAsync("one")).TicketTypes[0].Sold);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_dry_shard_on_the_home_s_database_refuses_an_order_sent_straight_without_writing_anything(string engine)
    {
        using var storage = Engines.Storage(engine, postgres);
        await using var cluster = await TicketingCluster.StartAsync(storage, output: output);
        await cluster.CreateEventAsync("dry", TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
        foreach (var index in new[] { 0, 4 })
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("dry", "ga", index).Purchase(TicketingCluster.KeylessPurchase("dry", "ga", 2))).Status);
            }
        }
        // Shard 1 activated now: its claim on its row is a commit of its own.
        Assert.Equal(6L, await cluster.Shard("dry", "ga", 1).GetSellable());
        using var commits = cluster.CollectMetric<long>("orleanstickets.storage.commits");
        using var questions = cluster.CollectMetric<long>("orleanstickets.shards.room_questions");

        // Shard 4, on the home's database, is named first as a view that missed its last sale would; shard 1 is elsewhere.
        var keyed = Request("dry-key", "dry");
        var created = await cluster.Shard("dry", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4, 1], LocalCandidates: 1));

        Assert.Equal(PurchaseStatus.Created, created.Status);
        Assert.True(OrderId.TryGetShard(created.Order!.OrderId, out var seller));
        Assert.Equal(1, seller.Index);
        // Shard 4's refusal wrote nothing: no key points at the id it refused, and only the home's message could name it.
        // The two commits are the key's reservation on the home and the order on shard 1, which alone was asked.
        Assert.Equal(2L, commits.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(1L, questions.GetMeasurementSnapshot().Sum(m => m.Value));
        var home = await cluster.LedgerAsync("dry", "ga", 0);
        Assert.Equal(created.Order.OrderId, (await home.Ledger.ReadKeyAsync("dry-key"))?.OrderId);
    }

    [Theory]
    [InlineData(PurchaseStatus.Unavailable)]
    [InlineData(PurchaseStatus.NotFound)]
    public async Task A_shard_on_the_home_s_database_that_cannot_take_an_order_sent_straight_is_passed_over(PurchaseStatus answer)
    {
        // Shard 4 has tickets but cannot sell (its database down, or its placement not found), and says so: nothing was made.
        var candidate = new ShardAddress("over", "ga", 4);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            candidate, nameof(IInventoryShardGrain.PurchaseForHome), call =>
            {
                call.Result = new PurchaseResult(answer);
                return Task.CompletedTask;
            }), output: output);
        await cluster.CreateEventAsync("over", TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("over", "ga", 0).Purchase(TicketingCluster.KeylessPurchase("over", "ga", 2))).Status);
        }
        await cluster.ActivateShardsAsync("over", "ga", 1);

        var keyed = Request("over-key", "over");
        var created = await cluster.Shard("over", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4, 1], LocalCandidates: 1));

        // As a question it could not answer would have been: the next candidate sells, and the key points at its order,
        // not at one on shard 4.
        Assert.Equal(PurchaseStatus.Created, created.Status);
        Assert.True(OrderId.TryGetShard(created.Order!.OrderId, out var seller));
        Assert.Equal(1, seller.Index);
        var home = await cluster.LedgerAsync("over", "ga", 0);
        Assert.Equal(created.Order.OrderId, (await home.Ledger.ReadKeyAsync("over-key"))?.OrderId);
    }

    [Fact]
    public async Task A_shard_that_left_an_order_sent_straight_unanswered_is_asked_for_room_first_by_every_home_on_the_silo()
    {
        // Shard 4's answers to orders sent straight are lost, as from a silo that froze; plain messages still reach it.
        // 12 shards on the default 4 databases: shards 0, 4 and 8 share one.
        var candidate = new ShardAddress("silent", "ga", 4);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            candidate, nameof(IInventoryShardGrain.PurchaseForHome),
            _ => throw new TimeoutException("The candidate's silo did not answer in time (played by a test).")), output: output);
        await cluster.CreateEventAsync("silent", TicketingCluster.Type("ga", capacity: 72, shards: 12, maxPerOrder: 2));
        foreach (var index in new[] { 0, 8 })
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(PurchaseStatus.Created, (await cluster.Shard("silent", "ga", index).Purchase(TicketingCluster.KeylessPurchase("silent", "ga", 2))).Status);
            }
        }
        using var questions = cluster.CollectMetric<long>("orleanstickets.shards.room_questions");

        // Home 0: its order to shard 4 may have been made, so it reserves the key for that id and asks again, plainly.
        var first = Request("silent-1", "silent");
        var firstAnswer = await cluster.Shard("silent", "ga", 0).Purchase(new ShardPurchase(first, first.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Created, firstAnswer.Status);
        Assert.Empty(questions.GetMeasurementSnapshot());

        // Home 8, which never sent shard 4 anything, asks it for room first: the silence is remembered by the silo.
        var second = Request("silent-2", "silent");
        var secondAnswer = await cluster.Shard("silent", "ga", 8).Purchase(new ShardPurchase(second, second.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Created, secondAnswer.Status);
        Assert.Equal(1L, questions.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task The_home_s_fallback_for_an_id_does_not_take_the_unrecorded_refusal_of_its_message_still_running_there()
    {
        // Shard 4 is dry; the home's message names shard 1 as its donor, whose gift is held back until the fallback has
        // arrived, and then gives nothing: the home's message ends "sold out" while the fallback waits on it.
        var donor = new ShardAddress("fallback", "ga", 1);
        var pulling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var giveNothing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Sqlite(), configureSilo: TicketingCluster.Intercepting(
            donor, nameof(IInventoryShardGrain.GiveTickets), async call =>
            {
                pulling.TrySetResult();
                await giveNothing.Task;
                call.Result = 0L;
            }), output: output);
        await cluster.CreateEventAsync("fallback", TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
        var holder = cluster.Shard("fallback", "ga", 4);
        for (var i = 0; i < 3; i++) Assert.Equal(PurchaseStatus.Created, (await holder.Purchase(TicketingCluster.KeylessPurchase("fallback", "ga", 2))).Status);
        var (home, _) = await cluster.LedgerAsync("fallback", "ga", 0);

        var keyed = Request("fallback-key", "fallback");
        var orderId = OrderId.New(new ShardAddress("fallback", "ga", 4), DateTimeOffset.UtcNow);
        var homeNamed = holder.PurchaseForHome(new ShardPurchase(keyed, keyed.Fingerprint(), [], orderId, FreshOrderId: true, Donors: [1],
            Home: new ForwardingHome(home.Address.Key, Epoch: 1)));
        await pulling.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The home heard nothing back, reserved the key for the id, and asks again without naming itself.
        var fallback = holder.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [], orderId, FreshOrderId: true));
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.False(fallback.IsCompleted, "the fallback should wait for the message for its id still running there");
        giveNothing.SetResult();

        Assert.Equal(PurchaseStatus.SoldOut, (await homeNamed).Status);
        // The home moves the key on after this answer, so the refusal must be the fallback's own, recorded: a later
        // replay for the id (from a stale copy of the home that read the key while it still pointed here), arriving
        // once the holder can pull tickets from a donor, must not make the order beside the one the key moved to.
        Assert.Equal(PurchaseStatus.SoldOut, (await fallback).Status);
        var delayed = await holder.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [], orderId, Donors: [2]));
        Assert.Equal(PurchaseStatus.SoldOut, delayed.Status);
        Assert.Equal(6L, (await cluster.SalesAsync("fallback")).TicketTypes[0].Sold);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_stale_home_s_forward_in_one_commit_is_refused_and_makes_no_order(string engine)
    {
        await using var twin = await StaleTwin.StartAsync(engine, "twin", postgres, output);

        // The stale home asks shard 4, on its database, to record the key with the order under the old epoch. The
        // holder's commit refuses it; the home then commits the key itself and finds itself fenced.
        var keyed = Request("twin-key", "twin");
        var answer = await twin.StaleHome.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        Assert.NotEqual(PurchaseStatus.Created, answer.Status);
        Assert.NotEqual(PurchaseStatus.Replayed, answer.Status);
        var (_, home) = await twin.Second.LedgerAsync("twin", "ga", 0);
        Assert.Null(await home.ReadKeyAsync("twin-key"));
        Assert.Equal(6L, (await twin.Second.SalesAsync("twin")).TicketTypes[0].Sold);

        // The buyer's retry reaches the current home, which forwards it in one commit.
        var retried = await twin.Second.Shard("twin", "ga", 0).Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Created, retried.Status);
        Assert.Equal(retried.Order!.OrderId, (await home.ReadKeyAsync("twin-key"))?.OrderId);
        Assert.Equal(7L, (await twin.Second.SalesAsync("twin")).TicketTypes[0].Sold);
    }

    [Theory, InlineData(Engines.Sqlite), PostgresRow]
    public async Task A_home_whose_holder_did_not_answer_does_not_tell_its_buyer_that_nothing_was_made(string engine)
    {
        // The holder's answer is lost (it may have made the order with the key), and the home then finds itself
        // fenced when it commits the key itself: "unavailable" would tell the buyer nothing was made.
        await using var twin = await StaleTwin.StartAsync(engine, "lost", postgres, output, TicketingCluster.Intercepting(
            new ShardAddress("lost", "ga", 4), nameof(IInventoryShardGrain.PurchaseForHome),
            _ => throw new TimeoutException("The holder's answer was lost (played by a test).")));

        var keyed = Request("lost-key", "lost");
        var answer = await twin.StaleHome.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        Assert.Equal(PurchaseStatus.Failed, answer.Status);
    }

    [PostgresFact]
    public async Task A_home_that_found_no_key_after_its_holder_s_refusal_answers_a_key_stored_since_for_another_body_as_a_conflict()
    {
        // Shard 4's batch with the key is refused (played here: its answer is a key conflict, and it makes nothing), as
        // when another writer held the home's row. Meanwhile another type's home is storing the same key for another
        // body: uncommitted, so the home's read after the refusal finds nothing, and its own insert of the key waits on
        // it, then meets it.
        var holder = new ShardAddress("race", "ga", 4);
        using var storage = Engines.Storage(Engines.Postgres, postgres);
        await using var cluster = await TicketingCluster.StartAsync(storage, configureSilo: TicketingCluster.Intercepting(
            holder, nameof(IInventoryShardGrain.PurchaseForHome), call =>
            {
                call.Result = new PurchaseResult(PurchaseStatus.KeyConflict);
                return Task.CompletedTask;
            }), output: output);
        await cluster.CreateEventAsync("race", TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
        var shard = cluster.Shard("race", "ga", 0);
        for (var i = 0; i < 3; i++) Assert.Equal(PurchaseStatus.Created, (await shard.Purchase(TicketingCluster.KeylessPurchase("race", "ga", 2))).Status);
        var (home, _) = await cluster.LedgerAsync("race", "ga", 0);
        var database = cluster.PostgresShardDatabase(home.DatabaseOrdinal);

        await using var other = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString(database)) { Pooling = false }.ConnectionString);
        await other.OpenAsync();
        await using var storing = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO idempotency_keys (event_id, idem_key, shard_key, fingerprint, order_id) VALUES ('race', 'race-key', @shard, 'another body', @order)",
            other, storing))
        {
            insert.Parameters.AddWithValue("shard", new ShardAddress("race", "vip", 0).Key);
            insert.Parameters.AddWithValue("order", "race.vip.0.elsewhere");
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        var keyed = Request("race-key", "race");
        var answer = shard.Purchase(new ShardPurchase(keyed, keyed.Fingerprint(), [4], LocalCandidates: 1));
        await using (var admin = new NpgsqlConnection(postgres.Server.ConnectionString()))
        {
            await admin.OpenAsync();
            // Only a session blocked by this test's uncommitted key: the home's own insert of the key, nothing else.
            await Poll.UntilAsync(async () =>
            {
                await using var waiting = new NpgsqlCommand(
                    "SELECT count(*) FROM pg_stat_activity WHERE @blocker = ANY(pg_blocking_pids(pid))", admin);
                waiting.Parameters.AddWithValue("blocker", other.ProcessID);
                return (long)(await waiting.ExecuteScalarAsync())! > 0;
            }, attempts: 500, delayMilliseconds: 20, failure: "The home never inserted the key itself after its holder's refusal.");
        }
        await storing.CommitAsync();

        // The stored key is another home's, for another body: 422, not "outcome unknown".
        Assert.Equal(PurchaseStatus.KeyConflict, (await answer).Status);
        Assert.Equal(6L, (await cluster.SalesAsync("race")).TicketTypes[0].Sold);
    }

    private static PurchaseRequest Request(string key, string eventId = "one") =>
        new(eventId, "ga", 1, new Buyer("Ada", "ada@example.com"), key);

    /// <summary>
    /// Two activations of shard 0 of a new event, as during a membership change, played by two clusters over the same
    /// databases: the first sold it dry, then the second's activation claimed it, so the first holds an old epoch
    /// without knowing it.
    /// </summary>
    private sealed class StaleTwin(TestStorage storage, TicketingCluster first, TicketingCluster second, string eventId) : IAsyncDisposable
    {
        public TicketingCluster Second => second;

        /// <summary>The first cluster's activation of the home, which no longer holds its shard.</summary>
        public IInventoryShardGrain StaleHome => first.Shard(eventId, "ga", 0);

        public static async Task<StaleTwin> StartAsync(
            string engine, string eventId, PostgresFixture postgres, ITestOutputHelper output, Action<ISiloBuilder>? configureFirst = null)
        {
            var storage = Engines.Storage(engine, postgres);
            var service = eventId + "-" + Guid.NewGuid().ToString("N")[..8];
            var first = await TicketingCluster.StartAsync(storage, serviceId: service, configureSilo: configureFirst, output: output);
            var twin = new StaleTwin(storage, first, await TicketingCluster.StartAsync(storage, serviceId: service, output: output), eventId);
            try
            {
                await first.CreateEventAsync(eventId, TicketingCluster.Type("ga", capacity: 48, shards: 8, maxPerOrder: 2));
                for (var i = 0; i < 3; i++)
                {
                    Assert.Equal(PurchaseStatus.Created, (await twin.StaleHome.Purchase(TicketingCluster.KeylessPurchase(eventId, "ga", 2))).Status);
                }
                Assert.Equal(0L, await twin.Second.Shard(eventId, "ga", 0).GetSellable());
                return twin;
            }
            catch
            {
                await twin.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await second.DisposeAsync();
            await first.DisposeAsync();
            storage.Dispose();
        }
    }
}
