using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;

namespace OrleansTickets.Diagnostics;

/// <summary>
/// The on-sale as operators and profilers see it live: what was made durable, what the dispatchers and shards did
/// to get there, and what each group commit carried. Read with <c>dotnet-counters monitor --counters OrleansTickets</c>
/// or any OpenTelemetry metrics listener.
/// </summary>
/// <remarks>
/// The instruments count work, not requests: HTTP outcomes are already in ASP.NET Core's own
/// <c>http.server.request.duration</c>, and admission in the API process's <c>orleanstickets.admission.*</c>. What
/// those cannot show is where an order's cost goes once it is inside the cluster, which is what the end of a sale is
/// made of: calls to shards per purchase, refreshes that ask every shard of a type, forwards, and tickets moving
/// between shards.
/// An instrument nobody listens to costs one branch, so the purchase path records unconditionally.
/// Invariant: recording never throws into the work it measures (<see cref="QuietRecording"/>).
/// </remarks>
public sealed class SaleMetrics
{
    private readonly Counter<long> _ordersCommitted;
    private readonly Counter<long> _ticketsCommitted;
    private readonly Counter<long> _purchases;
    private readonly Counter<long> _shardCalls;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _refreshCalls;
    private readonly Counter<long> _soldOut;
    private readonly Counter<long> _scattered;
    private readonly Counter<long> _pauses;
    private readonly Counter<long> _answers;
    private readonly Histogram<double> _answerDuration;
    private readonly Counter<long> _forwards;
    private readonly Counter<long> _roomQuestions;
    private readonly Counter<long> _transfers;
    private readonly Counter<long> _claimRechecks;
    private readonly Counter<long> _commits;
    private readonly Counter<long> _rewrites;
    private readonly Counter<long> _checkpointTrouble;
    private readonly Histogram<int> _commitBatches;
    private readonly Histogram<int> _commitOrders;
    private readonly Histogram<double> _commitDuration;

    // The route tag's values, indexed by PurchaseRoute (GetNames lists them in value order), so that recording
    // allocates nothing and a route added to the enum is named without a second list to keep in step.
    // Words are joined by underscores: ForwardedAcross is "forwarded_across".
    private static readonly string[] RouteNames =
        [.. Enum.GetNames<PurchaseRoute>().Select(name => Regex.Replace(name, "(?<!^)([A-Z])", "_$1").ToLowerInvariant())];

    /// <summary>Creates the instruments on a meter owned by <paramref name="meters"/> (the host's, through DI).</summary>
    public SaleMetrics(IMeterFactory meters)
        : this(meters.Create(TicketingMeter.Name))
    {
    }

    private SaleMetrics(Meter meter)
    {
        _ordersCommitted = meter.CreateCounter<long>("orleanstickets.orders.committed", "{order}",
            "Orders made durable by their shard's group commit.");
        _ticketsCommitted = meter.CreateCounter<long>("orleanstickets.tickets.committed", "{ticket}",
            "Tickets in the orders made durable.");
        _purchases = meter.CreateCounter<long>("orleanstickets.dispatch.purchases", "{purchase}",
            "Purchases a dispatcher was asked to route.");
        _shardCalls = meter.CreateCounter<long>("orleanstickets.dispatch.shard_calls", "{call}",
            "Purchase calls dispatchers made to shards; above the purchases when shards refuse or fail.");
        _refreshes = meter.CreateCounter<long>("orleanstickets.dispatch.refreshes", "{refresh}",
            "Refreshes of a dispatcher's view, each asking every shard of its type for an exact count.");
        _refreshCalls = meter.CreateCounter<long>("orleanstickets.dispatch.refresh_calls", "{call}",
            "Shards asked by those refreshes.");
        _soldOut = meter.CreateCounter<long>("orleanstickets.dispatch.sold_out", "{answer}",
            "Purchases answered sold out after a refresh proved too few tickets remain.");
        _scattered = meter.CreateCounter<long>("orleanstickets.dispatch.scattered", "{answer}",
            "Purchases answered tickets-scattered: every shard of the type is drained, and none holds as many tickets as the order asks for.");
        _pauses = meter.CreateCounter<long>("orleanstickets.dispatch.pauses", "{pause}",
            "Pauses of a purchase before it looks again, by reason: tickets (enough exist, but none can be had now: in " +
            "flight between shards, or reserved by purchases still committing) or retry (its home failed or was unavailable).");
        _answers = meter.CreateCounter<long>("orleanstickets.dispatch.answers", "{answer}",
            "Purchases a dispatcher answered, by route: the furthest it went to answer (direct, forwarded, pulled, " +
            "refreshed or paused). Purchases refused before routing (an unknown event, too many tickets) are not counted.");
        _answerDuration = meter.CreateHistogram<double>("orleanstickets.dispatch.answer.duration", "s",
            "Time from a dispatcher's first step on a purchase to its answer, by the same route.");
        _forwards = meter.CreateCounter<long>("orleanstickets.shards.forwards", "{order}",
            "Orders a key's home reserved the key for and handed to another shard, because it could not sell them itself.");
        _roomQuestions = meter.CreateCounter<long>("orleanstickets.shards.room_questions", "{call}",
            "Questions a home asked candidates before forwarding (whether they could sell the order).");
        _transfers = meter.CreateCounter<long>("orleanstickets.shards.transfers", "{transfer}",
            "Gifts of tickets between shards that were asked for, by reason: pull, gather or drain. Each is a chain of commits on both shards.");
        _claimRechecks = meter.CreateCounter<long>("orleanstickets.shards.claim_rechecks", "{read}",
            "Reads of its row's epoch by a shard activation, to learn whether a newer one holds the shard, by reason: idle (asked for a report with no commit running or queued, 5 s after its last commit or claim) or keyed_refusal (a key's home about to answer 'sold out' from what it read of the key); and by outcome: own, replaced (a newer activation holds the shard, and this one stopped) or failed (the read failed, or a reload of the activation's own ran meanwhile, so the answer could be its own new claim).");
        _commits = meter.CreateCounter<long>("orleanstickets.storage.commits", "{commit}",
            "Group commits of shard databases that reached COMMIT.");
        _rewrites = meter.CreateCounter<long>("orleanstickets.storage.rewrites", "{rewrite}",
            "Group commits rolled back and written again because a batch in them reused a key the event already holds (SQLite; at most one per group).");
        _checkpointTrouble = meter.CreateCounter<long>("orleanstickets.storage.checkpoint_trouble", "{report}",
            "Reports that a SQLite shard database's write-ahead log could not be copied into the database file: reason " +
            "\"failed\" (an error, such as a full disk) or \"behind\" (an open reader holds it back); a trouble that lasts " +
            "is reported again at most every 10 s per database, a change of reason at once.");
        _commitBatches = meter.CreateHistogram<int>("orleanstickets.storage.commit.batches", "{batch}",
            "Shard batches in one group commit.");
        _commitOrders = meter.CreateHistogram<int>("orleanstickets.storage.commit.orders", "{order}",
            "Orders in one group commit.");
        _commitDuration = meter.CreateHistogram<double>("orleanstickets.storage.commit.duration", "s",
            "Time from a group commit's first statement to its durable COMMIT.");
    }

    /// <summary>
    /// Instruments on a meter of their own, for storage built outside a host (tools and tests), with
    /// <paramref name="scope"/> as the meter's scope so that a listener can tell it from others of the same name.
    /// </summary>
    public static SaleMetrics Detached(object? scope = null) => new(new Meter(TicketingMeter.Name, version: null, tags: null, scope));

    /// <summary>A shard's commit cycle made <paramref name="orders"/> orders of <paramref name="tickets"/> tickets durable.</summary>
    public void Committed(int orders, long tickets)
    {
        if (orders == 0) return;
        _ordersCommitted.AddQuietly(orders);
        _ticketsCommitted.AddQuietly(tickets);
    }

    /// <summary>A dispatcher took a purchase to route.</summary>
    public void PurchaseRouted() => _purchases.AddQuietly(1);

    /// <summary>A dispatcher called a shard's Purchase.</summary>
    public void ShardCalled() => _shardCalls.AddQuietly(1);

    /// <summary>A dispatcher refreshed its view by asking <paramref name="shards"/> shards.</summary>
    public void Refreshed(int shards)
    {
        _refreshes.AddQuietly(1);
        _refreshCalls.AddQuietly(shards);
    }

    /// <summary>A dispatcher answered sold out.</summary>
    public void AnsweredSoldOut() => _soldOut.AddQuietly(1);

    /// <summary>A dispatcher answered that the tickets left are scattered over drained shards.</summary>
    public void AnsweredScattered() => _scattered.AddQuietly(1);

    /// <summary>A purchase paused before looking again; <paramref name="retry"/> when its home failed, else it waits for tickets.</summary>
    public void Paused(bool retry) => _pauses.AddQuietly(1, new KeyValuePair<string, object?>("reason", retry ? "retry" : "tickets"));

    /// <summary>A dispatcher answered a purchase after <paramref name="elapsed"/>, the furthest it went being <paramref name="route"/>.</summary>
    public void Answered(PurchaseRoute route, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("route", RouteNames[(int)route]);
        _answers.AddQuietly(1, tag);
        _answerDuration.RecordQuietly(elapsed.TotalSeconds, tag);
    }

    /// <summary>
    /// A home had another shard sell a keyed order: counted when that shard sold it with the key in one commit
    /// (<paramref name="oneCommit"/>, a holder on the home's database), or when the home, having committed the key's
    /// reservation itself, asked it to sell the order.
    /// </summary>
    public void Forwarded(bool oneCommit) => _forwards.AddQuietly(1, new KeyValuePair<string, object?>("commits", oneCommit ? "one" : "two"));

    /// <summary>A home asked a candidate whether it has room.</summary>
    public void AskedForRoom() => _roomQuestions.AddQuietly(1);

    /// <summary>A shard asked another for tickets, or set out to give its own.</summary>
    public void TransferAsked(TransferReason reason) => _transfers.AddQuietly(1, new KeyValuePair<string, object?>("reason", reason switch
    {
        TransferReason.Pull => "pull",
        TransferReason.Gather => "gather",
        _ => "drain",
    }));

    /// <summary>
    /// A shard activation read its row's epoch to learn whether a newer one replaced it, where no commit of its own
    /// would tell it: before a keyed "sold out" (<paramref name="beforeKeyedRefusal"/>), or after 5 s without a commit,
    /// as a report is asked. Not <paramref name="read"/> when the database failed the read or a reload of its own ran
    /// meanwhile.
    /// </summary>
    public void ClaimRechecked(bool read, bool replaced, bool beforeKeyedRefusal = false) =>
        _claimRechecks.AddQuietly(1, new KeyValuePair<string, object?>("outcome", !read ? "failed" : replaced ? "replaced" : "own"),
            new KeyValuePair<string, object?>("reason", beforeKeyedRefusal ? "keyed_refusal" : "idle"));

    /// <summary>
    /// A shard database committed a group of <paramref name="batches"/> batches holding <paramref name="orders"/> orders,
    /// after writing it <paramref name="rewrites"/> more times than once.
    /// </summary>
    public void GroupCommitted(int batches, int orders, TimeSpan duration, int rewrites = 0)
    {
        _commits.AddQuietly(1);
        if (rewrites > 0) _rewrites.AddQuietly(rewrites);
        _commitBatches.RecordQuietly(batches);
        _commitOrders.RecordQuietly(orders);
        _commitDuration.RecordQuietly(duration.TotalSeconds);
    }

    /// <summary>
    /// A SQLite shard database's writer reports that its write-ahead log could not be copied into the database file, for
    /// <paramref name="reason"/>: "failed" or "behind".
    /// </summary>
    public void CheckpointTrouble(string reason) => _checkpointTrouble.AddQuietly(1, new KeyValuePair<string, object?>("reason", reason));
}
