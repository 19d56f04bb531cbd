using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// Runs, once and before the clock starts, the code that reads a sale's answers: an order and a sold-out problem read,
/// the order kept in a journal, both counted and timed. All on scratch copies, so nothing is counted. The buyers' own
/// loops, and a 503's Retry-After, still compile at their first use.
/// </summary>
/// <remarks>
/// The waiting room's requests are refused (404), so they never reach this code, and the generator compiles each method
/// fully optimized on its first call (quick JIT is off in its project). It compiled about 350 methods in the sale's first
/// 250 ms, on the cores the service needed: the service minted the first 256 orders within 10 ms, then none for the
/// next 60–90 ms, while the buyers' threads compiled the code that reads their answers (docs/benchmarks.md,
/// thirty-seventh session). A browser's page is warm when its buyer clicks; the generator's code should be too.
/// </remarks>
public static class AnswerHandlingWarmUp
{
    // Shaped like the service's answers (api/Orders, api/Http/Problems.cs); only the fields the buyers read matter.
    private static ReadOnlySpan<byte> SampleOrder =>
        """{"orderId":"warm-up.ga.0.sample","eventId":"warm-up","ticketTypeId":"ga","quantity":2,"unitPrice":49.5,"total":99.0,"currency":"EUR","buyer":{"name":"Buyer 0","email":"buyer-0@example.test"},"tickets":[{"code":"warm-up.ga.1.sample","serial":1},{"code":"warm-up.ga.2.sample","serial":2}],"createdAt":"2026-01-01T00:00:00+00:00"}"""u8;

    private static ReadOnlySpan<byte> SampleSoldOut =>
        """{"type":"https://orleanstickets.dev/problems/sold-out","title":"Not enough tickets left.","status":409,"detail":"Fewer than 2 tickets of this type can be sold.","remaining":1}"""u8;

    /// <summary>Reads, keeps, counts and times one sample order and reads one sample sold-out answer; returns both as read.</summary>
    public static (PostOutcome Order, PostOutcome SoldOut) Run()
    {
        var counters = new LoadCounters();
        var latency = new LatencyRecorder(new LatencyTimeline());
        var order = TicketingApiClient.ReadOrder(201, SampleOrder.ToArray(), TimeSpan.FromMilliseconds(1));
        counters.RecordResponse(order.StatusCode);
        latency.Record(order.Latency);
        if (order is { Result: PostResult.Acknowledged, Order: { } acknowledged })
        {
            new AcknowledgedOrderJournal().Add(order.Body, PreparedOrder.Create(acknowledged.TicketTypeId, acknowledged.Quantity, 0).Body);
            counters.RecordOrder(acknowledged.Tickets.Count);
        }
        var soldOut = TicketingApiClient.ReadConflict(409, SampleSoldOut.ToArray(), TimeSpan.FromMilliseconds(1));
        counters.RecordResponse(soldOut.StatusCode);
        latency.Record(soldOut.Latency);
        return (order, soldOut);
    }
}
