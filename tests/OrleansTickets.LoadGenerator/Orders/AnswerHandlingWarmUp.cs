using System.Net;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// Runs, before the clock starts, the code that reads a sale's answers: an order and a sold-out problem read, the
/// order kept in a journal, both counted and timed; then a scratch buyer's whole sale against canned answers in this
/// process. All on scratch copies, so nothing is counted. A 503's Retry-After still compiles at its first use.
/// </summary>
/// <remarks>
/// The waiting room's requests are refused (404), so they never reach this code, and the generator compiles each method
/// fully optimized on its first call (quick JIT is off in its project). It compiled about 350 methods in the sale's first
/// 250 ms, on the cores the service needed: the service minted the first 256 orders within 10 ms, then none for the
/// next 60–90 ms, while the buyers' threads compiled the code that reads their answers (docs/benchmarks.md,
/// thirty-seventh session). A browser's page is warm when its buyer clicks; the generator's code should be too.
/// One pass was not enough (forty-ninth session): the buyers' loops still compiled at the clock, and the framework's
/// precompiled code they call (the JSON reader, the histogram's arithmetic, the content read) was recompiled
/// optimized after its 30th call, about 220 methods during the sale's first second. Hence the scratch sale, and
/// <see cref="Rounds"/> of everything.
/// </remarks>
public static class AnswerHandlingWarmUp
{
    // Shaped like the service's answers (api/Orders, api/Http/Problems.cs); only the fields the buyers read matter.
    private static ReadOnlySpan<byte> SampleOrder =>
        """{"orderId":"warm-up.ga.0.sample","eventId":"warm-up","ticketTypeId":"ga","quantity":2,"unitPrice":49.5,"total":99.0,"currency":"EUR","buyer":{"name":"Buyer 0","email":"buyer-0@example.test"},"tickets":[{"code":"warm-up.ga.1.sample","serial":1},{"code":"warm-up.ga.2.sample","serial":2}],"createdAt":"2026-01-01T00:00:00+00:00"}"""u8;

    private static ReadOnlySpan<byte> SampleSoldOut =>
        """{"type":"https://orleanstickets.dev/problems/sold-out","title":"Not enough tickets left.","status":409,"detail":"Fewer than 2 tickets of this type can be sold.","remaining":1}"""u8;

    // The scratch sale's last answer: none remaining, so the buyer stops (the sample above, with one left, would not).
    private static ReadOnlySpan<byte> SampleGone =>
        """{"type":"https://orleanstickets.dev/problems/sold-out","title":"Not enough tickets left.","status":409,"detail":"No tickets of this type are left.","remaining":0}"""u8;

    /// <summary>
    /// How many times the warm-up runs each piece: the runtime recompiles a precompiled method optimized once it was
    /// called 30 times, and that should happen before the clock starts.
    /// </summary>
    public const int Rounds = 64;

    // Far above the milliseconds the scratch sale takes, far below a waiting room's seconds of patience.
    private static readonly TimeSpan ScratchSaleBound = TimeSpan.FromSeconds(5);

    /// <summary>Runs the samples <see cref="Rounds"/> times, then the scratch sale.</summary>
    public static async Task RunAsync()
    {
        for (var round = 0; round < Rounds; round++) Run();
        await RunScratchSaleAsync();
    }

    /// <summary>
    /// One buyer's whole sale through the buyers' own code (<see cref="VirtualBuyer"/>, <see cref="TicketingApiClient"/>)
    /// against canned answers from this process: <see cref="Rounds"/> single-ticket orders, then "sold out". Returns the
    /// orders it was acknowledged and the requests it gave up on, the one cut off by a 5 s bound included (none, when the
    /// answers took the buyers' own branches).
    /// </summary>
    public static async Task<(int Orders, int Abandoned)> RunScratchSaleAsync()
    {
        using var http = new HttpClient(new CannedAnswers()) { BaseAddress = new Uri("http://warm-up.invalid") };
        var demand = TicketTypeDemand.Create([new TicketTypeInfo("ga", "warm-up", Rounds, MaxPerOrder: 1, Rounds)], weights: null);
        var buyer = new VirtualBuyer(0, "/api/events/warm-up/orders", [new TicketingApiClient(http)], demand, maxQuantity: 1,
            new LoadCounters(), new LatencyRecorder(new LatencyTimeline()), purchaseLatency: new LatencyRecorder());
        // A buyer that never hears "sold out" keeps asking: the warm-up must not hold the doors for that.
        using var bound = new CancellationTokenSource(ScratchSaleBound);
        try
        {
            await buyer.RunAsync(bound.Token);
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested)
        {
            return (buyer.Orders.Count, buyer.Abandoned + 1);
        }
        return (buyer.Orders.Count, buyer.Abandoned);
    }

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

    /// <summary>The sample order for the first <see cref="Rounds"/> requests, then the sample sold-out answer (none remaining).</summary>
    private sealed class CannedAnswers : HttpMessageHandler
    {
        private int _answered;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var ordered = ++_answered <= Rounds;
            var content = new ByteArrayContent(ordered ? SampleOrder.ToArray() : SampleGone.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            return Task.FromResult(new HttpResponseMessage(ordered ? HttpStatusCode.Created : HttpStatusCode.Conflict) { Content = content });
        }
    }
}
