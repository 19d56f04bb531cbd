using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.GrainDirectory;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// Copies of the real service (silo + HTTP API) form one cluster through our ADO.NET membership schema on PostgreSQL:
/// what one silo's API creates and sells, the other's sees. The API also runs as separate front ends (Orleans
/// clients), the shape of the story's web roles.
/// </summary>
[Collection(PostgresClusterCollection.Name)]
public sealed class ClusteredSiloTests(PostgresFixture postgres)
{
    [PostgresFact]
    public async Task Two_silos_share_one_cluster_and_sell_one_inventory()
    {
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
        };
        await using var first = await ApiHost.StartAsync(storage, settings);
        await using var second = await ApiHost.StartAsync(storage, settings);

        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("cluster", capacity: 200, shards: 8)).StatusCode);
        var buys = await Task.WhenAll(Enumerable.Range(0, 60).Select(i =>
            (i % 2 == 0 ? first : second).Client.OrderAsync("cluster", 2, key: $"k-{i}")));
        Assert.All(buys, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        // A retry through the other front end finds the same order.
        var replay = await second.Client.OrderAsync("cluster", 2, key: "k-0");
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal((await buys[0].JsonAsync()).GetProperty("orderId").GetString(), (await replay.JsonAsync()).GetProperty("orderId").GetString());

        Assert.Equal(120, await first.Client.SoldAsync("cluster"));
        Assert.Equal(120, await second.Client.SoldAsync("cluster"));

        await AssertActiveSilosAsync(storage, clusterId, 2);
    }

    [PostgresFact]
    public async Task Separate_api_front_ends_sell_through_the_cluster_and_a_dead_front_end_costs_no_idempotency()
    {
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
        };
        await using var silo = await ApiHost.StartAsync(storage, settings);
        var firstFrontEnd = await ApiHost.StartFrontEndAsync(settings);
        await using var secondFrontEnd = await ApiHost.StartFrontEndAsync(settings);

        Assert.Equal(HttpStatusCode.Created, (await firstFrontEnd.Client.CreateEventAsync("web-roles", capacity: 100, shards: 4)).StatusCode);
        var bought = await firstFrontEnd.Client.OrderAsync("web-roles", 3, key: "basket-1");
        Assert.Equal(HttpStatusCode.Created, bought.StatusCode);

        // The first front end dies; the buyer retries the same request through another one.
        await firstFrontEnd.DisposeAsync();
        var retried = await secondFrontEnd.Client.OrderAsync("web-roles", 3, key: "basket-1");
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal((await bought.JsonAsync()).GetRawText(), (await retried.JsonAsync()).GetRawText());
        Assert.Equal(3, await secondFrontEnd.Client.SoldAsync("web-roles"));
        Assert.Equal(3, await silo.Client.SoldAsync("web-roles"));
    }

    [PostgresFact]
    public async Task A_front_end_that_cannot_reach_any_silo_is_not_ready_and_is_again_once_one_is_back()
    {
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
        };
        var silo = await ApiHost.StartAsync(storage, settings);
        await using var frontEnd = await ApiHost.StartFrontEndAsync(settings);
        // Connected, readiness answers from the client's own count of gateway connections, with no call to the cluster.
        var connection = frontEnd.Services.GetRequiredService<OrleansTickets.Api.Hosting.ClusterConnection>();
        await Poll.UntilAsync(() => Task.FromResult(connection.IsConnected), failure: "The client never reported a gateway connection.");
        Assert.Equal(HttpStatusCode.OK, (await frontEnd.Client.GetAsync("/health/ready")).StatusCode);

        // The only silo leaves. Before, the front end went on saying it was ready, and its balancer went on sending it
        // buyers who could only get 503s.
        await silo.DisposeAsync();
        HttpResponseMessage? notReady = null;
        await Poll.UntilAsync(async () => (notReady = await frontEnd.Client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK,
            attempts: 60, delayMilliseconds: 500, failure: "The front end kept saying it was ready with no silo to reach.");
        var problem = await ApiContractTests.AssertProblemAsync(notReady!, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Contains("cannot reach the cluster", problem.GetProperty("title").GetString());
        Assert.False(connection.IsConnected);

        // A silo is back: the front end finds it (its readiness call makes the client look for gateways) and is ready.
        await using var again = await ApiHost.StartAsync(storage, settings);
        await Poll.UntilAsync(async () => (await frontEnd.Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            attempts: 120, delayMilliseconds: 500, failure: "The front end never became ready again with a silo back.");
        Assert.Equal(HttpStatusCode.Created, (await frontEnd.Client.CreateEventAsync("reachable", capacity: 10, shards: 2)).StatusCode);
    }

    [PostgresFact]
    public async Task A_silo_with_another_catalog_or_signing_key_is_refused_by_a_running_cluster()
    {
        // A silo added for the rush, with a typo in its database name: it would create empty databases of its own,
        // and a shard moved onto it would find no row, claim one afresh and sell its serials a second time.
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var membership = storage.Settings["Storage:ConnectionString"];
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
            ["Cluster:ConnectionString"] = membership,
        };
        await using var first = await ApiHost.StartAsync(storage, settings);
        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("bound", capacity: 10, shards: 2)).StatusCode);

        var typo = TestStorage.Postgres(postgres.Server);
        var elsewhere = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(typo, settings));
        Assert.Contains("catalog database", elsewhere.Message);
        // Refused before it made anything: no stray database is left where the typo pointed.
        Assert.Empty(await postgres.Server.DatabasesStartingWithAsync(new NpgsqlConnectionStringBuilder(typo.Settings["Storage:ConnectionString"]).Database!));

        var otherKey = TestStorage.Postgres(postgres.Server);
        otherKey.Settings["Storage:ConnectionString"] = membership;
        otherKey.Settings["Tickets:SigningKey"] = Convert.ToBase64String(Enumerable.Range(100, 32).Select(i => (byte)i).ToArray());
        var keyed = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(otherKey, settings));
        Assert.Contains("Tickets:SigningKey", keyed.Message);

        // The cluster's own settings still join, and the refused silos left nothing behind in it.
        await using var second = await ApiHost.StartAsync(storage, settings);
        Assert.Equal(10, (await (await second.Client.GetAsync("/api/events/bound/sales")).JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
        await AssertActiveSilosAsync(storage, clusterId, 2);
    }

    [PostgresFact]
    public async Task A_silo_whose_membership_database_is_not_its_cluster_s_is_refused()
    {
        // A silo added for the rush with a typo in Cluster:ConnectionString finds no cluster recorded in the database it
        // names, and took itself for the first silo of a new cluster over the same catalog and shard databases.
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
            ["Cluster:ConnectionString"] = storage.Settings["Storage:ConnectionString"],
        };
        await using var first = await ApiHost.StartAsync(storage, settings);
        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("one-membership", capacity: 10, shards: 2)).StatusCode);

        var typo = new NpgsqlConnectionStringBuilder(storage.Settings["Storage:ConnectionString"]) { Database = "typo_" + Guid.NewGuid().ToString("N")[..8] };
        var elsewhere = new Dictionary<string, string?>(settings) { ["Cluster:ConnectionString"] = typo.ConnectionString };
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(storage, elsewhere));
        Assert.Contains("Cluster:ConnectionString", refused.Message);
        Assert.Contains(typo.Database!, refused.Message);

        // The cluster's own settings still join.
        await using var second = await ApiHost.StartAsync(storage, settings);
        await AssertActiveSilosAsync(storage, clusterId, 2);
    }

    [PostgresFact]
    public async Task A_silo_with_another_cluster_id_is_refused_while_a_cluster_runs_on_its_catalog_and_starts_once_that_one_stops()
    {
        // A silo added for the rush with a typo in Cluster:ClusterId would form a cluster of its own over the same
        // databases: no ticket sold twice, but the two clusters' shards fence each other and both answer 503.
        var storage = TestStorage.Postgres(postgres.Server);
        var membership = storage.Settings["Storage:ConnectionString"];
        var running = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
            ["Cluster:ConnectionString"] = membership,
        };
        var typo = new Dictionary<string, string?>(running) { ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8] };
        var first = await ApiHost.StartAsync(storage, running);
        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("one-cluster", capacity: 10, shards: 2)).StatusCode);

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(storage, typo));
        Assert.Contains($"Cluster '{running["Cluster:ClusterId"]}' is running on this silo's catalog", refused.Message);
        await AssertActiveSilosAsync(storage, typo["Cluster:ClusterId"]!, 0, membership);
        // A cluster on a catalog of its own shares the membership database and is no concern of this one.
        var elsewhere = TestStorage.Postgres(postgres.Server);
        await using (var other = await ApiHost.StartAsync(elsewhere, new Dictionary<string, string?>(typo) { ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8] }))
        {
            Assert.Equal(HttpStatusCode.Created, (await other.Client.CreateEventAsync("its-own", capacity: 4, shards: 1)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Created, (await first.Client.OrderAsync("one-cluster", 2, key: "still-selling")).StatusCode);

        // The running cluster stops: a new deployment on the catalog (a new cluster id) starts, and sells what is left.
        await first.DisposeAsync();
        await using var next = await ApiHost.StartAsync(storage, typo);
        Assert.Equal(HttpStatusCode.Created, (await next.Client.OrderAsync("one-cluster", 2, key: "next-deployment")).StatusCode);
        Assert.Equal(4, await next.Client.SoldAsync("one-cluster"));
    }

    [PostgresFact]
    public async Task Another_cluster_counts_as_running_while_a_joining_or_active_silo_of_it_said_it_was_alive_within_the_window()
    {
        // The window is three of the silos' IAmAlive periods (Orleans' default 30 s): 90 s.
        var storage = TestStorage.Postgres(postgres.Server);
        var membership = storage.Settings["Storage:ConnectionString"]!;
        var earlier = "c-" + Guid.NewGuid().ToString("N")[..8];
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = earlier,
            ["Cluster:ConnectionString"] = membership,
        };
        await using (var first = await ApiHost.StartAsync(storage, settings))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("earlier", capacity: 4, shards: 1)).StatusCode);
        }
        var next = new Dictionary<string, string?>(settings) { ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8] };

        // The earlier cluster's silo, played back to joining, last alive 100 s ago: a crashed silo, past the window.
        await SetMembersAsync(membership, earlier, status: 2, aliveSecondsAgo: 100);
        await (await ApiHost.StartAsync(storage, next)).DisposeAsync();

        // The same, alive 60 s ago: inside the window, so the earlier cluster is still running.
        await SetMembersAsync(membership, earlier, status: 2, aliveSecondsAgo: 60);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(storage, next));
        Assert.Contains($"Cluster '{earlier}' is running on this silo's catalog", refused.Message);
    }

    [PostgresFact]
    public async Task A_localhost_silo_is_refused_while_a_cluster_runs_on_its_catalog_and_starts_once_that_one_stops()
    {
        // Membership in the catalog database (no Cluster:ConnectionString), where a Localhost silo looks for clusters.
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var clustered = new Dictionary<string, string?> { ["Cluster:Membership"] = "AdoNet", ["Cluster:ClusterId"] = clusterId };
        await using (var running = await ApiHost.StartAsync(storage, clustered))
        {
            Assert.Equal(HttpStatusCode.Created, (await running.Client.CreateEventAsync("looked-at", capacity: 10, shards: 2)).StatusCode);

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(storage));
            Assert.Contains($"Cluster '{clusterId}' is running on this silo's catalog", refused.Message);
            Assert.Contains("Localhost mode", refused.Message);
            // Its own cluster id does not make a Localhost silo part of that cluster.
            await Assert.ThrowsAsync<InvalidOperationException>(() => ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Cluster:ClusterId"] = clusterId }));
        }

        // A membership database named apart that cannot be reached is one the silo does not need: it starts, and says
        // it did not look.
        var log = new WarningCollector();
        var unreachable = new NpgsqlConnectionStringBuilder(storage.Settings["Storage:ConnectionString"]) { Host = "127.0.0.1", Port = FreePort.Next() };
        await (await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Cluster:ConnectionString"] = unreachable.ConnectionString },
            services => services.AddSingleton<ILoggerProvider>(log))).DisposeAsync();
        Assert.True(log.Saw("could not read the membership database"), string.Join(Environment.NewLine, log.Lines));

        await using var local = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await local.Client.OrderAsync("looked-at", 2, key: "after-the-cluster")).StatusCode);
        Assert.Equal(2, await local.Client.SoldAsync("looked-at"));
    }

    [PostgresTheory]
    [InlineData(ServiceLifecycleStage.Active + 1)]
    [InlineData(ServiceLifecycleStage.BecomeActive)]
    public async Task A_silo_stopped_while_the_rebalancers_worker_still_activates_stops_without_waiting_out_its_budget(int releaseStage)
    {
        // A silo's first rebalancer report creates the worker; a stop while it registers once waited the full 90 s.
        // Released at BecomeActive, the worker is still registering when Orleans asks it to migrate, as a worker
        // handed over by a silo stopping beside this one may be.
        var storage = TestStorage.Postgres(postgres.Server);
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
        };
        var directory = new HeldRebalancerDirectory(releaseStage);
        var silo = await ApiHost.StartAsync(storage, settings, services => services
            .AddSingleton<IGrainDirectoryResolver>(directory)
            .AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(directory));
        await directory.Registering.WaitAsync(TimeSpan.FromSeconds(30));

        var stopping = silo.DisposeAsync().AsTask();
        var stopped = await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromSeconds(30))) == stopping;
        Assert.True(stopped, "The silo's stop was still waiting for the rebalancer's worker 30 s on (its budget is 90 s).");
        await stopping;
    }

    private static async Task SetMembersAsync(string membership, string clusterId, int status, int aliveSecondsAgo)
    {
        await using var connection = new NpgsqlConnection(membership);
        await connection.OpenAsync();
        await using var update = new NpgsqlCommand(
            "UPDATE orleansmembershiptable SET status = @status, iamalivetime = now() - make_interval(secs => @ago) WHERE deploymentid = @id", connection);
        update.Parameters.AddWithValue("status", status);
        update.Parameters.AddWithValue("ago", (double)aliveSecondsAgo);
        update.Parameters.AddWithValue("id", clusterId);
        Assert.True(await update.ExecuteNonQueryAsync() > 0, "the earlier cluster left no membership row to play with");
    }

    [PostgresFact]
    public async Task A_front_end_started_while_the_membership_database_refuses_connections_waits_for_it()
    {
        // A front end restarted together with PostgreSQL (as in the chaos run) meets a membership database that is not
        // back yet; Orleans' client gives up at once on such an error, and the process would exit.
        var storage = TestStorage.Postgres(postgres.Server);
        var clusterId = "c-" + Guid.NewGuid().ToString("N")[..8];
        var membership = await MembershipDatabase.CreateAsync(postgres, "fe");
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = clusterId,
            ["Cluster:ConnectionString"] = membership.ConnectionString,
        };
        await using var silo = await ApiHost.StartAsync(storage, settings);
        var database = new NpgsqlConnectionStringBuilder(membership.ConnectionString).Database!;

        Task<ApiHost> starting;
        var log = new WarningCollector();
        await postgres.Server.SetConnectionsAsync(database, allowed: false);
        try
        {
            starting = ApiHost.StartFrontEndAsync(settings, services => services.AddSingleton<ILoggerProvider>(log));
            // The database is opened again only once the front end has met it closed and said it waits.
            await Poll.UntilAsync(() => Task.FromResult(log.Saw("could not reach its cluster") || starting.IsCompleted), attempts: 600,
                failure: "The front end never said it was waiting for its cluster.");
            Assert.False(starting.IsCompleted, $"The front end's start ended with the database closed: {starting.Exception?.GetBaseException().Message}");
        }
        finally
        {
            await postgres.Server.SetConnectionsAsync(database, allowed: true);
        }

        await using var frontEnd = await starting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.Created, (await frontEnd.Client.CreateEventAsync("waited", capacity: 10, shards: 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await frontEnd.Client.OrderAsync("waited", 2, key: "after-the-wait")).StatusCode);
    }

    [PostgresTheory]
    [InlineData("membership")]
    [InlineData("catalog")]
    public async Task A_silo_added_while_a_database_refuses_connections_waits_for_it(string closed)
    {
        // The chaos run adds a silo for the rush while PostgreSQL restarts; the silo met a refused connection in its
        // first start-up step and exited, leaving the fleet one silo short without a word in the run's verdict.
        var storage = TestStorage.Postgres(postgres.Server);
        var membership = await MembershipDatabase.CreateAsync(postgres, "join");
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
            ["Cluster:ConnectionString"] = membership.ConnectionString,
        };
        await using var first = await ApiHost.StartAsync(storage, settings);
        Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("rush", capacity: 20, shards: 4)).StatusCode);
        var database = new NpgsqlConnectionStringBuilder(closed == "membership" ? membership.ConnectionString : storage.Settings["Storage:ConnectionString"]).Database!;

        Task<ApiHost> starting;
        var log = new WarningCollector();
        await postgres.Server.SetConnectionsAsync(database, allowed: false);
        try
        {
            starting = ApiHost.StartAsync(storage, settings, services => services.AddSingleton<ILoggerProvider>(log));
            // The database is opened again only once the silo has met it closed and said it waits.
            await Poll.UntilAsync(() => Task.FromResult(log.Saw("could not reach its database") || starting.IsCompleted), attempts: 600,
                failure: "The silo never said it was waiting for its database.");
            Assert.False(starting.IsCompleted, $"The silo's start ended with the database closed: {starting.Exception?.GetBaseException().Message}");
        }
        finally
        {
            await postgres.Server.SetConnectionsAsync(database, allowed: true);
        }

        await using var second = await starting.WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(HttpStatusCode.Created, (await second.Client.OrderAsync("rush", 2, key: "after-the-wait")).StatusCode);
        Assert.Equal(2, await first.Client.SoldAsync("rush"));
        await AssertActiveSilosAsync(storage, settings["Cluster:ClusterId"]!, 2, membership.ConnectionString);
    }

    [PostgresTheory]
    [InlineData("rejected")]
    [InlineData("connection-failed")]
    public async Task A_front_end_whose_purchase_failed_after_it_may_have_run_says_the_outcome_is_unknown(string failure)
    {
        // The dispatcher runs the purchase, then the front end's client fails the call, as it fails a copy it resent
        // after its gateway connection broke mid-send: refused (no gateway left) or unable to reconnect. In a silo's
        // own API such a failure means "not delivered"; behind a gateway it does not, and "unavailable" would invite a
        // buyer without a key to buy again.
        var storage = TestStorage.Postgres(postgres.Server);
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
        };
        Func<Exception> loss = failure == "rejected"
            // Orleans makes these itself (its constructors are internal), as its client does when no gateway is left.
            ? () => (Exception)Activator.CreateInstance(typeof(OrleansMessageRejectionException),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, null,
                ["No gateway left for the resent copy (played by a test)."], null)!
            : () => new Orleans.Runtime.Messaging.ConnectionFailedException("The gateway could not be reached again (played by a test).");
        var resent = new FailedResend(loss);
        await using var silo = await ApiHost.StartAsync(storage, settings);
        await using var frontEnd = await ApiHost.StartFrontEndAsync(settings, services => services.AddSingleton<IOutgoingGrainCallFilter>(resent));
        Assert.Equal(HttpStatusCode.Created, (await frontEnd.Client.CreateEventAsync("resent", capacity: 10, shards: 2)).StatusCode);

        var response = await frontEnd.Client.OrderAsync("resent", 2);

        Assert.True(resent.Failed);
        await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        Assert.Equal(2, await frontEnd.Client.SoldAsync("resent"));
    }

    /// <summary>In the front end's client: the first purchase reaches the dispatcher and runs, then the call fails.</summary>
    private sealed class FailedResend(Func<Exception> loss) : IOutgoingGrainCallFilter
    {
        private int _failed;

        public bool Failed => Volatile.Read(ref _failed) == 1;

        public async Task Invoke(IOutgoingGrainCallContext call)
        {
            await call.Invoke();
            if (call.InterfaceMethod.DeclaringType == typeof(OrleansTickets.Orders.IPurchaseDispatcherGrain)
                && Interlocked.Exchange(ref _failed, 1) == 0)
            {
                throw loss();
            }
        }
    }

    [PostgresFact]
    public async Task A_capacity_addition_without_a_key_that_a_front_end_sent_twice_adds_the_tickets_once()
    {
        // The front end's client sends the addition again after its gateway connection broke mid-send, and the first
        // gateway had already taken the first copy: both copies reach the catalog. Before, each made a grant of new
        // serials, and the operator, who sent one request without a key, got 201 for one of two additions.
        var storage = TestStorage.Postgres(postgres.Server);
        var settings = new Dictionary<string, string?>(storage.Settings)
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:ClusterId"] = "c-" + Guid.NewGuid().ToString("N")[..8],
        };
        var resend = new ResentAddition();
        await using var silo = await ApiHost.StartAsync(storage, settings);
        await using var frontEnd = await ApiHost.StartFrontEndAsync(settings, services => services.AddSingleton<IOutgoingGrainCallFilter>(provider =>
        {
            resend.Grains = provider.GetRequiredService<IGrainFactory>();
            return resend;
        }));
        Assert.Equal(HttpStatusCode.Created, (await frontEnd.Client.CreateEventAsync("twice", capacity: 10, shards: 2)).StatusCode);

        var added = await frontEnd.Client.PostRawAsync("/api/events/twice/ticket-types/ga/capacity", "{\"quantity\":5}");

        Assert.True(resend.Resent);
        // The copy found the first grant under the request's own key: the operator still hears that it was added.
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var sales = await (await frontEnd.Client.GetAsync("/api/events/twice/sales")).JsonAsync();
        Assert.Equal(15, sales.GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
    }

    /// <summary>
    /// In the front end's client: a capacity addition runs, then its copy runs too, as a resent message would, and the
    /// copy's answer is the one the front end gets (the first one's was lost with the connection).
    /// </summary>
    private sealed class ResentAddition : IOutgoingGrainCallFilter
    {
        private int _resent;

        public IGrainFactory? Grains { get; set; }

        public bool Resent => Volatile.Read(ref _resent) == 1;

        public async Task Invoke(IOutgoingGrainCallContext call)
        {
            await call.Invoke();
            if (call.InterfaceMethod.Name == nameof(OrleansTickets.Events.ITicketEventGrain.AddCapacity)
                && Interlocked.Exchange(ref _resent, 1) == 0)
            {
                // The same message: the same grain and the same arguments, the key (or its absence) included.
                call.Result = await Grains!.GetGrain<OrleansTickets.Events.ITicketEventGrain>(call.TargetId).AddCapacity(
                    (string)call.Request.GetArgument(0)!, (long)call.Request.GetArgument(1)!, (int?)call.Request.GetArgument(2),
                    (string?)call.Request.GetArgument(3));
            }
        }
    }

    [Fact]
    public void Liveness_settings_reach_orleans_membership_options()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=unused",
            ["Cluster:Membership"] = "AdoNet",
            ["Cluster:Liveness:ProbeTimeout"] = "00:00:03",
            ["Cluster:Liveness:NumMissedProbesLimit"] = "1",
            ["Tickets:SigningKey"] = TestStorage.SigningKey,
        });
        OrleansTickets.Silo.Hosting.SiloHostingExtensions.AddTicketingSilo(builder);
        using var app = builder.Build();
        var options = app.Services.GetRequiredService<IOptions<ClusterMembershipOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), options.ProbeTimeout);
        Assert.Equal(1, options.NumMissedProbesLimit);
        // A stop drains requests that may each wait 30 s on a grain call, then leaves the cluster: .NET's default 30 s
        // budget for both would leave the silo's graceful leave none.
        var shutdown = app.Services.GetRequiredService<IOptions<Microsoft.Extensions.Hosting.HostOptions>>().Value.ShutdownTimeout;
        Assert.True(shutdown >= TimeSpan.FromSeconds(60), $"shutdown timeout {shutdown}");
    }

    [Fact]
    public void A_front_ends_stop_budget_outlasts_a_grain_calls_response_timeout()
    {
        // A purchase in flight may wait on its grain call for Orleans' 30 s; with .NET's default 30 s budget the web
        // server could cut that buyer off with no answer instead of 503 outcome-unknown.
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=nobody;Database=unused",
            ["Cluster:Membership"] = "AdoNet",
        });
        OrleansTickets.Api.Hosting.FrontEndHostingExtensions.AddTicketingFrontEnd(builder);
        using var app = builder.Build();
        var shutdown = app.Services.GetRequiredService<IOptions<Microsoft.Extensions.Hosting.HostOptions>>().Value.ShutdownTimeout;
        var response = app.Services.GetRequiredService<IOptions<ClientMessagingOptions>>().Value.ResponseTimeout;
        Assert.True(shutdown > response, $"shutdown timeout {shutdown}, response timeout {response}");
    }

    private static async Task AssertActiveSilosAsync(TestStorage storage, string clusterId, long expected, string? membership = null)
    {
        await using var connection = new NpgsqlConnection(membership ?? storage.Settings["Storage:ConnectionString"]);
        await connection.OpenAsync();
        await using var active = new NpgsqlCommand("SELECT count(*) FROM orleansmembershiptable WHERE deploymentid = @id AND status = 3", connection);
        active.Parameters.AddWithValue("id", clusterId);
        Assert.Equal(expected, Convert.ToInt64(await active.ExecuteScalarAsync()));
    }
}
