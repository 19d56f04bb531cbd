using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Api.Orders;

namespace OrleansTickets.Silo.Rehearsal;

/// <summary>
/// Buyers who sell out the rehearsal event over HTTP, the way a real crowd buys: a type picked by demand,
/// 1 to 4 tickets, a fresh <c>Idempotency-Key</c> per order, until every type answers "sold out".
/// </summary>
/// <remarks>
/// The point is to run every piece of code a real on-sale runs (Kestrel, JSON, admission, the dispatcher, type
/// homes and forwards, shard group commits, sold-out answers, the sales read), often enough for the JIT to
/// finish optimizing it, so it is not a load test: it needs no latency numbers.
/// </remarks>
internal sealed class RehearsalCrowd(HttpClient client, string eventId)
{
    /// <summary>The first rehearsal event's id; later sales add their number. They exist only in the scratch storage.</summary>
    public const string FirstEventId = "rehearsal";

    // Shaped like a festival in miniature: one big type on many shards and small ones on few, so orders are
    // forwarded between type homes and small types sell out early, as in the real sale.
    private static readonly (string Id, double Share, int Shards)[] Types =
        [("general", 0.60, 32), ("early", 0.20, 8), ("camping", 0.15, 4), ("vip", 0.05, 2)];

    // More than this many answers that a real sale never gives (400, 404, 500) means the rehearsal is broken.
    private const int MaxUnexpected = 16;

    private long _tickets;
    private long _orders;
    private long _rejected;
    private int _unexpected;

    // What the crowd is doing, for the log when the rehearsal's time limit stops it: a stalled rehearsal is otherwise
    // silent about whether its buyers wait on answers that never come or get 503 after 503.
    private long _requests;
    private long _unavailable;
    private string? _lastUnavailable;
    private readonly ConcurrentDictionary<long, long> _open = new();

    /// <summary>Creates the rehearsal event, opens its doors, and sells it out with <paramref name="buyers"/> concurrent buyers.</summary>
    public async Task<RehearsalOutcome> SellOutAsync(int tickets, int buyers, CancellationToken cancellationToken)
    {
        var capacities = Types.Select(t => Math.Max(t.Shards * 4, (int)(tickets * t.Share))).ToArray();
        var created = await client.PostAsJsonAsync("/api/events", new CreateEventBody(eventId, "On-sale rehearsal",
            Types.Select((t, i) => (TicketTypeBody?)new TicketTypeBody(t.Id, t.Id, 10m, "EUR", capacities[i], t.Shards, 4)).ToList()),
            ApiJsonContext.Default.CreateEventBody, cancellationToken);
        created.EnsureSuccessStatusCode();
        // Opens the doors as an operator would: every shard activates before the first buyer.
        (await client.GetAsync($"/api/events/{eventId}/sales", cancellationToken)).EnsureSuccessStatusCode();

        var soldOut = new bool[Types.Length];
        var crowd = Enumerable.Range(0, buyers).Select(i => BuyAsync(new Random(i), capacities, soldOut, cancellationToken));
        var lastOrders = await Task.WhenAll(crowd);

        // The paths after a sale: an order read back, a retried request replayed, the final sales.
        if (lastOrders.FirstOrDefault(o => o is not null) is { } last)
        {
            (await client.GetAsync($"/api/orders/{last.OrderId}", cancellationToken)).EnsureSuccessStatusCode();
            using var replay = await PostOrderAsync(last.Key, last.TicketTypeId, last.Quantity, cancellationToken);
            if (replay.StatusCode != HttpStatusCode.OK) _unexpected++;
        }
        var sales = await client.GetFromJsonAsync($"/api/events/{eventId}/sales", ApiJsonContext.Default.EventSales, cancellationToken);
        var exact = sales is not null && _unexpected == 0
            && sales.TicketTypes.All(t => t.Sold == t.Capacity && t.Remaining == 0)
            && sales.TicketTypes.Sum(t => t.Sold) == _tickets
            && capacities.Sum() == _tickets;
        return new RehearsalOutcome(_tickets, _orders, _rejected, exact);
    }

    /// <summary>
    /// What the crowd was doing, in words: for the log line of a rehearsal stopped by its time limit. Orders awaiting an
    /// answer are those the limit cut off (a request is counted as open until its answer came).
    /// </summary>
    public string Describe()
    {
        var now = Stopwatch.GetTimestamp();
        var oldest = _open.Values.DefaultIfEmpty(now).Min();
        var last = Volatile.Read(ref _lastUnavailable);
        var waiting = Stopwatch.GetElapsedTime(oldest, now).TotalSeconds;
        return string.Create(CultureInfo.InvariantCulture,
            $"event {eventId}: {_open.Count} orders awaiting an answer (the oldest for {waiting:F1} s), {Interlocked.Read(ref _orders)} orders made, {Interlocked.Read(ref _rejected)} other answers, of them {Interlocked.Read(ref _unavailable)} 503{(last is null ? "" : $" (the last: {last})")}");
    }

    private async Task<PlacedOrder?> BuyAsync(Random random, int[] capacities, bool[] soldOut, CancellationToken cancellationToken)
    {
        PlacedOrder? last = null;
        while (PickType(random, capacities, soldOut) is { } type)
        {
            var quantity = random.Next(1, 5);
            var key = Guid.NewGuid().ToString("N");
            while (quantity > 0)
            {
                var request = Interlocked.Increment(ref _requests);
                _open[request] = Stopwatch.GetTimestamp();
                using var response = await PostOrderAsync(key, Types[type].Id, quantity, cancellationToken);
                _open.TryRemove(request, out _);
                // 200: a retry found the order its first attempt made.
                if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
                {
                    var order = await response.Content.ReadFromJsonAsync(ApiJsonContext.Default.OrderDetails, cancellationToken);
                    Interlocked.Add(ref _tickets, order!.Tickets.Length);
                    Interlocked.Increment(ref _orders);
                    last = new PlacedOrder(order.OrderId, key, order.TicketTypeId, order.Quantity);
                    break;
                }
                Interlocked.Increment(ref _rejected);
                if (response.StatusCode == HttpStatusCode.Conflict)
                {
                    // Fewer left than asked: take what is left, or hear that none are.
                    var remaining = await RemainingAsync(response, cancellationToken);
                    if (remaining <= 0) Volatile.Write(ref soldOut[type], true);
                    quantity = (int)Math.Min(quantity - 1, remaining);
                    // A different request needs a different key: reusing it would be a key conflict.
                    key = Guid.NewGuid().ToString("N");
                }
                else if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    Interlocked.Increment(ref _unavailable);
                    Volatile.Write(ref _lastUnavailable, await response.Content.ReadAsStringAsync(cancellationToken));
                    // Busy, or the outcome is unknown: the same key again, as the answer asks, so that an order made
                    // after all is returned instead of made twice.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
                }
                else if (Interlocked.Increment(ref _unexpected) > MaxUnexpected)
                {
                    throw new InvalidOperationException(
                        $"The rehearsal got {(int)response.StatusCode} for an order: {await response.Content.ReadAsStringAsync(cancellationToken)}");
                }
                else
                {
                    break;
                }
            }
        }
        return last;
    }

    private Task<HttpResponseMessage> PostOrderAsync(string key, string typeId, int quantity, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/events/{eventId}/orders")
        {
            Content = JsonContent.Create(new CreateOrderBody(typeId, quantity, new BuyerBody("Rehearsal buyer", "rehearsal@example.org")),
                ApiJsonContext.Default.CreateOrderBody),
        };
        request.Headers.Add(IdempotencyKeyHeader.Name, key);
        return client.SendAsync(request, cancellationToken);
    }

    private static async Task<long> RemainingAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var problem = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        return problem.RootElement.TryGetProperty("remaining", out var remaining) && remaining.TryGetInt64(out var value) ? value : 0;
    }

    /// <summary>A type that is not sold out, picked with probability proportional to its capacity; null when none is left.</summary>
    private static int? PickType(Random random, int[] capacities, bool[] soldOut)
    {
        while (true)
        {
            long open = 0;
            for (var i = 0; i < capacities.Length; i++) if (!Volatile.Read(ref soldOut[i])) open += capacities[i];
            if (open == 0) return null;
            var pick = random.NextInt64(open);
            for (var i = 0; i < capacities.Length; i++)
            {
                if (Volatile.Read(ref soldOut[i])) continue;
                if (pick < capacities[i]) return i;
                pick -= capacities[i];
            }
            // Another buyer saw a type sell out between the two reads: draw again.
        }
    }

    private sealed record PlacedOrder(string OrderId, string Key, string TicketTypeId, int Quantity);
}
