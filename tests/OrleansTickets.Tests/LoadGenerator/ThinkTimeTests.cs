using System.Diagnostics;
using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// Buyers who pause after each order bound how fast a sale can go, whatever the machine: the chaos run needs its sale
/// to outlast its schedule of faults.
/// </summary>
public sealed class ThinkTimeTests
{
    [Fact]
    public void The_think_time_is_read_in_milliseconds_and_bounded()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(150), LoadOptionsParser.Parse(["--think-time", "150"]).ThinkTime);
        Assert.Equal(TimeSpan.Zero, LoadOptionsParser.Parse([]).ThinkTime);
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--think-time", "-1"]));
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--think-time", "60001"]));
    }

    [Fact]
    public async Task A_buyer_pauses_after_each_order_it_gets()
    {
        // Three orders are sold at once each, then the type is sold out: without pauses the buyer is done in moments.
        var service = new ThreeOrders();
        using var http = new HttpClient(service) { BaseAddress = new Uri("http://service.test") };
        var demand = TicketTypeDemand.Create([new TicketTypeInfo("ga", "General admission", 3, 1, 3)], weights: null);
        var buyer = new VirtualBuyer(0, "/api/events/e/orders", [new TicketingApiClient(http)], demand, maxQuantity: 1,
            new LoadCounters(), new LatencyRecorder(), thinkTime: TimeSpan.FromMilliseconds(200));

        var clock = Stopwatch.StartNew();
        await buyer.RunAsync(CancellationToken.None);

        Assert.Equal(3, buyer.Orders.Count);
        // A lower bound only, however slow or loaded the machine, with room for timers that fire a millisecond early (a CI
        // run measured 599.6 ms for three 200 ms pauses). Without the pauses the buyer is done in a few milliseconds.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(500), $"three orders in {clock.Elapsed}");
    }

    private sealed class ThreeOrders : HttpMessageHandler
    {
        private int _sold;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var serial = Interlocked.Increment(ref _sold);
            return Task.FromResult(serial <= 3
                ? Json(HttpStatusCode.Created, $$"""{"orderId":"e.ga.0.k{{serial}}","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"c-{{serial}}","serial":{{serial}}}]}""")
                : Json(HttpStatusCode.Conflict, """{"type":"https://tickets.example/problems/sold-out","remaining":0}"""));
        }

        private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
            new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    }
}
