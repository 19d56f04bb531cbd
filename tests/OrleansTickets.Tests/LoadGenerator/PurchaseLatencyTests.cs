using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// A purchase that waited out a 503 and tried again is one purchase, as long as the buyer waited, not two fast
/// exchanges: the latency a buyer saw is counted from the first try to the definite answer.
/// </summary>
public sealed class PurchaseLatencyTests
{
    [Fact]
    public async Task A_purchase_that_waited_out_a_503_counts_once_with_its_wait()
    {
        using var http = new HttpClient(new BusyOnceService()) { BaseAddress = new Uri("http://service.test") };
        var demand = TicketTypeDemand.Create([new TicketTypeInfo("ga", "General admission", 1, 4, 1)], weights: null);
        var exchanges = new LatencyRecorder();
        var purchases = new LatencyRecorder();
        var soldOut = new LatencyRecorder();
        var buyer = new VirtualBuyer(0, "/api/events/e/orders", [new TicketingApiClient(http)], demand, maxQuantity: 1,
            new LoadCounters(), exchanges, purchaseLatency: purchases, soldOutLatency: soldOut);

        await buyer.RunAsync(CancellationToken.None);

        // 503, then 201 for the same key, then 409: three exchanges, two purchases (the order and the sold-out answer).
        Assert.Single(buyer.Orders);
        Assert.Equal(3, exchanges.Summarize().Count);
        var summary = purchases.Summarize();
        Assert.Equal(2, summary.Count);
        // Retry-After: 0 is waited as the client's shortest pause, 50 ms (40 here: a timer can end a few ms early); no
        // single exchange here took that long.
        Assert.True(summary.Max >= 40, $"the slowest purchase took {summary.Max} ms, less than the wait it held");
        Assert.True(exchanges.Summarize().Max < summary.Max);
        // The sold-out answers' own: the 409 alone.
        Assert.Equal(1, soldOut.Summarize().Count);
    }

    /// <summary>503 with Retry-After: 0 for the first request, the order for its retry, "sold out" afterwards.</summary>
    private sealed class BusyOnceService : HttpMessageHandler
    {
        private int _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = ++_requests switch
            {
                1 => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Headers = { { "Retry-After", "0" } } },
                2 => Json(HttpStatusCode.Created, """{"orderId":"e.ga.0.k","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"c-1","serial":1}]}"""),
                _ => Json(HttpStatusCode.Conflict, """{"type":"https://tickets.example/problems/sold-out","remaining":0}"""),
            };
            return Task.FromResult(response);
        }

        private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
            new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    }
}
