using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The chaos run's audit reads the operators-only export: with a key configured, the load generator must send it
/// there, and only there. And the reports it checks must be of the event it sold.
/// </summary>
public sealed class OperatorKeyTests
{
    [Theory]
    [InlineData("a-key-of-at-least-16-chars")]
    [InlineData(null)]
    public async Task The_export_carries_the_operator_key_when_there_is_one(string? key)
    {
        var handler = new RecordingHandler("""{"eventId":"e","orders":[],"next":null}""");
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://127.0.0.1:1/") };

        var page = await new TicketingApiClient(http, key).GetExportPageAsync("e", after: null, CancellationToken.None);

        Assert.Empty(page.Orders);
        Assert.Equal(key is null ? null : "Bearer " + key, handler.Authorization);
    }

    [Fact]
    public async Task A_report_that_names_another_event_is_refused_not_checked()
    {
        // The checks compare /sales and the export with the buyers' answers and the offered capacities; another event's
        // report with the same capacities (the benchmark's warm-up copy) would pass them against the wrong numbers.
        using var sales = new HttpClient(new RecordingHandler("""{"eventId":"warm-up","ticketTypes":[]}""")) { BaseAddress = new Uri("http://127.0.0.1:1/") };
        using var export = new HttpClient(new RecordingHandler("""{"eventId":"warm-up","orders":[],"next":null}""")) { BaseAddress = new Uri("http://127.0.0.1:1/") };

        await Assert.ThrowsAsync<InvalidDataException>(() => new TicketingApiClient(sales, null).GetSalesAsync("festival", CancellationToken.None));
        await Assert.ThrowsAsync<InvalidDataException>(() => new TicketingApiClient(export, null).GetExportPageAsync("festival", after: null, CancellationToken.None));
        // Its own event's report is read as before.
        Assert.Equal("warm-up", (await new TicketingApiClient(sales, null).GetSalesAsync("warm-up", CancellationToken.None)).EventId);
    }

    [Fact]
    public async Task A_buyers_order_never_carries_it()
    {
        var handler = new RecordingHandler("{}", HttpStatusCode.ServiceUnavailable);
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://127.0.0.1:1/") };

        await new TicketingApiClient(http, "a-key-of-at-least-16-chars")
            .PostOrderAsync("/api/events/e/orders", PreparedOrder.Create("ga", 1, 1), CancellationToken.None);

        Assert.True(handler.Sent);
        Assert.Null(handler.Authorization);
    }

    private sealed class RecordingHandler(string body, HttpStatusCode status = HttpStatusCode.OK) : HttpMessageHandler
    {
        public bool Sent { get; private set; }

        public string? Authorization { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Sent = true;
            Authorization = request.Headers.Authorization?.ToString();
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
