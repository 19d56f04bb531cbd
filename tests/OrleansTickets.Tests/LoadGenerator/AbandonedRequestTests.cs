using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// A request the buyer gave up on during the sale may have made an order nobody was told about; the run asks again
/// with the same key once the sale is over, and only an answer settles it.
/// </summary>
public sealed class AbandonedRequestTests
{
    [Theory]
    [InlineData(HttpStatusCode.OK, 0, 1)]          // the key had made an order: the replay gives it
    [InlineData(HttpStatusCode.Conflict, 0, 0)]    // sold out for this key: it made none
    [InlineData(HttpStatusCode.InternalServerError, 1, 0)]
    public async Task A_request_given_up_during_the_sale_is_asked_again_with_its_key(HttpStatusCode afterTheSale, int unanswered, int orders)
    {
        var service = new ScriptedService();
        using var http = new HttpClient(service) { BaseAddress = new Uri("http://service.test") };
        var demand = TicketTypeDemand.Create([new TicketTypeInfo("ga", "General admission", 10, 4, 10)], weights: null);
        var buyer = new VirtualBuyer(0, "/api/events/e/orders", [new TicketingApiClient(http)], demand, maxQuantity: 1,
            new LoadCounters(), new LatencyRecorder(), failureBackoffStep: TimeSpan.FromMilliseconds(1));

        await buyer.RunAsync(CancellationToken.None);

        Assert.Equal(1, buyer.Abandoned);
        Assert.Empty(buyer.Orders);
        Assert.False(SaleVerifier.RequestsAnswered(buyer.Abandoned, buyer.Resolved).Passed);

        service.AfterTheSale = afterTheSale;
        var saleOver = System.Diagnostics.Stopwatch.GetTimestamp();
        await buyer.ResolveAbandonedAsync(CancellationToken.None);

        Assert.Equal(unanswered, buyer.Abandoned);
        Assert.Equal(1 - unanswered, buyer.Resolved);
        Assert.Equal(orders, buyer.Orders.Count);
        // The replay is asked with the key the sale's request had: once when answered, and until the buyer gives up
        // again when every answer is a failure.
        Assert.Equal(unanswered == 0 ? 1 : VirtualBuyer.MaxFailedAttempts, service.KeysAfterTheSale.Count);
        Assert.All(service.KeysAfterTheSale, key => Assert.Equal(service.FirstKey, key));
        if (orders == 1) Assert.Equal(new OrderRequested("ga", 1, "Buyer 0", "buyer-0@example.test"), buyer.Orders[0].Requested);
        // An order learned of only now was acknowledged now: the sale's clock runs to it.
        Assert.Equal(orders == 1, buyer.LastAcknowledgedAt >= saleOver);
        Assert.Equal(unanswered == 0, SaleVerifier.RequestsAnswered(buyer.Abandoned, buyer.Resolved).Passed);
    }

    /// <summary>
    /// During the sale: 500 for the first key, every time, and "sold out" for any other. After it: the chosen answer.
    /// </summary>
    private sealed class ScriptedService : HttpMessageHandler
    {
        public string? FirstKey { get; private set; }

        public HttpStatusCode? AfterTheSale { get; set; }

        public List<string> KeysAfterTheSale { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var key = request.Headers.GetValues("Idempotency-Key").Single();
            FirstKey ??= key;
            if (AfterTheSale is { } answer)
            {
                KeysAfterTheSale.Add(key);
                return Task.FromResult(answer switch
                {
                    HttpStatusCode.OK => Json(answer, """{"orderId":"e.ga.0.k","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"c-1","serial":1}]}"""),
                    HttpStatusCode.Conflict => SoldOut(),
                    _ => new HttpResponseMessage(answer),
                });
            }
            return Task.FromResult(key == FirstKey ? new HttpResponseMessage(HttpStatusCode.InternalServerError) : SoldOut());
        }

        private static HttpResponseMessage SoldOut() =>
            Json(HttpStatusCode.Conflict, """{"type":"https://tickets.example/problems/sold-out","remaining":0}""");

        private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
            new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    }
}
