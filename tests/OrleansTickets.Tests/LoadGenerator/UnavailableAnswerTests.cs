using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// A 503 says "nothing was decided, come back": the buyer waits as told and asks again with the same key and body, so
/// that if the service did sell meanwhile the retry is a replay, not a second order.
/// </summary>
public sealed class UnavailableAnswerTests
{
    [Fact]
    public async Task A_request_answered_503_is_asked_again_with_its_key_and_body_past_the_failure_limit()
    {
        // More 503s than the failures a request may meet: a 503 is the service's own answer, bounded by the run's
        // timeout, not a failed exchange to give up after.
        var unavailable = VirtualBuyer.MaxFailedAttempts + 5;
        var service = new ScriptedService(unavailable);
        using var http = new HttpClient(service) { BaseAddress = new Uri("http://service.test") };
        var demand = TicketTypeDemand.Create([new TicketTypeInfo("ga", "General admission", 10, 4, 10)], weights: null);
        var counters = new LoadCounters();
        var buyer = new VirtualBuyer(0, "/api/events/e/orders", [new TicketingApiClient(http)], demand, maxQuantity: 1,
            counters, new LatencyRecorder(), failureBackoffStep: TimeSpan.FromMilliseconds(1));

        await buyer.RunAsync(CancellationToken.None);

        var first = service.Requests[0];
        var retries = service.Requests.Take(unavailable + 1).ToList();
        Assert.All(retries, request => Assert.Equal(first, request));
        Assert.Equal(0, buyer.Abandoned);
        Assert.Single(buyer.Orders);
        Assert.Equal(unavailable, counters.Retries);
        Assert.Equal(0, counters.Errors);
        Assert.Equal(unavailable, counters.StatusCounts()["503"]);
        Assert.Equal(1, counters.StatusCounts()["201"]);
        // Each retry waited for Retry-After (0, read as the client's shortest wait of 50 ms) before going again.
        Assert.All(service.Gaps(unavailable), gap => Assert.True(gap >= TimeSpan.FromMilliseconds(40), $"asked again after {gap}"));
    }

    /// <summary>
    /// 503 with <c>Retry-After: 0</c> to the first <c>unavailable</c> requests, then 201 to the first key; "sold out"
    /// to any other key.
    /// </summary>
    private sealed class ScriptedService(int unavailable) : HttpMessageHandler
    {
        private readonly List<long> _arrivals = [];

        public List<(string Key, string Body)> Requests { get; } = [];

        /// <summary>The times between the first <paramref name="count"/> + 1 requests' arrivals.</summary>
        public IEnumerable<TimeSpan> Gaps(int count) =>
            _arrivals.Take(count + 1).Zip(_arrivals.Skip(1).Take(count), (earlier, later) => System.Diagnostics.Stopwatch.GetElapsedTime(earlier, later));

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _arrivals.Add(System.Diagnostics.Stopwatch.GetTimestamp());
            var key = request.Headers.GetValues("Idempotency-Key").Single();
            Requests.Add((key, await request.Content!.ReadAsStringAsync(cancellationToken)));
            if (Requests.Count <= unavailable)
            {
                var refused = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
                refused.Headers.TryAddWithoutValidation("Retry-After", "0");
                return refused;
            }
            return key == Requests[0].Key
                ? Json(HttpStatusCode.Created, """{"orderId":"e.ga.0.k","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"c-1","serial":1}]}""")
                : Json(HttpStatusCode.Conflict, """{"type":"https://tickets.example/problems/sold-out","remaining":0}""");
        }

        private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
            new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    }
}
