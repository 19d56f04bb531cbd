using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// One buyer with one request in flight at a time: picks a type and a quantity, buys, and keeps going until every
/// type is sold out. Keeps the orders it was acknowledged, so the sale can be checked against them afterwards.
/// With several service addresses, buyers start spread over them and move to the next one after a failed exchange,
/// as a browser retrying through a load balancer would; the same Idempotency-Key goes along.
/// </summary>
public sealed class VirtualBuyer(
    int number, string ordersPath, IReadOnlyList<TicketingApiClient> apis, TicketTypeDemand demand, int maxQuantity,
    LoadCounters counters, LatencyRecorder latency, TimeSpan? failureBackoffStep = null, TimeSpan thinkTime = default,
    LatencyRecorder? purchaseLatency = null, LatencyRecorder? soldOutLatency = null)
{
    private int _api = number % apis.Count;

    /// <summary>Failed exchanges (no answer, unexpected status) tolerated for one request before giving it up.</summary>
    public const int MaxFailedAttempts = 20;

    private readonly TimeSpan _failureBackoffStep = failureBackoffStep ?? TimeSpan.FromMilliseconds(50);

    private readonly AcknowledgedOrderJournal _orders = new();
    private readonly List<PreparedOrder> _abandoned = [];
    private readonly Random _random = new();

    /// <summary>The orders this buyer was acknowledged, read from its journal on each call: ask once the buying is done.</summary>
    public IReadOnlyList<AcknowledgedOrder> Orders => _orders.Read();

    /// <summary><see cref="Stopwatch"/> timestamp of this buyer's last acknowledged order; 0 if none.</summary>
    public long LastAcknowledgedAt { get; private set; }

    /// <summary><see cref="Stopwatch"/> timestamp of this buyer's last response of any kind; 0 if none.</summary>
    public long LastResponseAt { get; private set; }

    /// <summary>Requests given up after <see cref="MaxFailedAttempts"/> and still unanswered: each may or may not have made an order.</summary>
    public int Abandoned => _abandoned.Count;

    /// <summary>Requests given up during the sale whose outcome <see cref="ResolveAbandonedAsync"/> learned afterwards.</summary>
    public int Resolved { get; private set; }

    public async Task RunAsync(CancellationToken cancellation)
    {
        while (demand.TryPick(_random, out var type))
        {
            var quantity = _random.Next(1, Math.Min(maxQuantity, type.MaxPerOrder) + 1);
            while (!demand.IsSoldOut(type.Id))
            {
                // A new quantity is a different request, so it gets a new key: reusing one would be a key conflict.
                var prepared = PreparedOrder.Create(type.Id, quantity, number);
                var outcome = await BuyAsync(prepared, cancellation, measured: true);
                if (outcome is null)
                {
                    _abandoned.Add(prepared);
                    break;
                }
                if (outcome.Result == PostResult.Acknowledged)
                {
                    _orders.Add(outcome.Body!, prepared.Body);
                    counters.RecordOrder(outcome.Order!.Tickets.Count);
                    LastAcknowledgedAt = LastResponseAt;
                    // A person reads the confirmation before buying again; it also bounds how fast a sale can go.
                    if (thinkTime > TimeSpan.Zero) await Task.Delay(thinkTime, cancellation);
                    break;
                }

                // Sold out for this quantity. A refused single ticket, or nothing remaining, means the type is gone.
                if (outcome.Remaining <= 0 || quantity == 1)
                {
                    demand.MarkSoldOut(type.Id);
                    break;
                }
                // Enough remain in total but no single shard holds the quantity: ask for fewer.
                quantity = outcome.Remaining < quantity ? (int)outcome.Remaining : Math.Max(1, quantity / 2);
            }
        }
    }

    /// <summary>
    /// Asks again, after the sale, for each request given up during it: the same key and body, so the service answers
    /// with the order the key made (a replay) or with "sold out", which proves the key made none. Without this, an
    /// abandoned request that did sell would hold tickets in no acknowledged order, and every count would still add up
    /// if an acknowledged order had been lost and its serials sold to it. Not measured: the sale is over.
    /// </summary>
    public async Task ResolveAbandonedAsync(CancellationToken cancellation)
    {
        foreach (var abandoned in _abandoned.ToList())
        {
            var outcome = await BuyAsync(abandoned, cancellation, measured: false);
            if (outcome is null) continue;
            _abandoned.Remove(abandoned);
            Resolved++;
            if (outcome.Result == PostResult.Acknowledged)
            {
                _orders.Add(outcome.Body!, abandoned.Body);
                // Its tickets count as sold, so the time to sell out runs to when the buyer first learned of them: the
                // sale's rates never count tickets that were acknowledged only after their clock had stopped.
                LastAcknowledgedAt = Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>
    /// Sends one request until it gets a definite answer (acknowledged or sold out); null when given up. When measured,
    /// each exchange goes to <c>latency</c>, and the whole purchase, from the first try to that answer (or to giving
    /// up), to <c>purchaseLatency</c>: what the buyer waited, retries and waits for Retry-After included. A "sold out"
    /// answer's exchange also goes to <c>soldOutLatency</c>: at the end of a sale those answers wait for the last
    /// commits, and a run's slowest 1% is worth telling apart from the orders.
    /// </summary>
    private async Task<PostOutcome?> BuyAsync(PreparedOrder order, CancellationToken cancellation, bool measured)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = await TryUntilAnsweredAsync(order, cancellation, measured);
        if (measured) purchaseLatency?.Record(Stopwatch.GetElapsedTime(started));
        return outcome;
    }

    private async Task<PostOutcome?> TryUntilAnsweredAsync(PreparedOrder order, CancellationToken cancellation, bool measured)
    {
        var failures = 0;
        for (var attempt = 0; ; attempt++)
        {
            if (measured && attempt > 0) counters.RecordRetry();
            var outcome = await apis[_api].PostOrderAsync(ordersPath, order, cancellation);
            if (measured)
            {
                LastResponseAt = Stopwatch.GetTimestamp();
                counters.RecordResponse(outcome.StatusCode);
                // Every exchange, answered or not: one that timed out is the slowest a buyer saw, not one to leave out.
                latency.Record(outcome.Latency);
                if (outcome.Result == PostResult.SoldOut) soldOutLatency?.Record(outcome.Latency);
            }

            switch (outcome.Result)
            {
                case PostResult.Acknowledged or PostResult.SoldOut:
                    return outcome;
                case PostResult.Unavailable:
                    // Not counted against the limit: the service said when to come back, and the run's timeout bounds it.
                    await Task.Delay(outcome.RetryAfter, cancellation);
                    break;
                default:
                    if (measured) counters.RecordError();
                    _api = (_api + 1) % apis.Count;
                    if (++failures >= MaxFailedAttempts) return null;
                    await Task.Delay(_failureBackoffStep * Math.Min(failures, 20), cancellation);
                    break;
            }
        }
    }
}
