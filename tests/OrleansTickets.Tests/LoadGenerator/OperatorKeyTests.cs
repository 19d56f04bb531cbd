using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The chaos run's audit reads the operators-only export: with a key configured, the load generator must send it
/// there, and only there.
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
