using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The verification's read of /sales waits out a service that says to come back, and nothing else.</summary>
public sealed class SalesReaderTests
{
    private const string Report = """{"eventId":"e","ticketTypes":[{"id":"ga","capacity":4,"sold":4,"remaining":0,"shards":[]}]}""";
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(10);

    [Fact]
    public async Task A_503_is_asked_again_until_the_report_comes()
    {
        var service = new ScriptedService(HttpStatusCode.ServiceUnavailable, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK);

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None);

        Assert.Equal(4L, Assert.Single(sales!.TicketTypes).Sold);
        Assert.Equal(3, service.Requests);
    }

    [Fact]
    public async Task An_address_that_does_not_answer_is_passed_for_the_next()
    {
        var gone = new ScriptedService();
        var live = new ScriptedService(HttpStatusCode.OK);

        var sales = await SalesReader.ReadAsync([gone.Client(), live.Client()], "e", Pause, CancellationToken.None);

        Assert.NotNull(sales);
        Assert.Equal((1, 1), (gone.Requests, live.Requests));
    }

    [Fact]
    public async Task Any_other_answer_ends_the_read_at_once()
    {
        var service = new ScriptedService(HttpStatusCode.InternalServerError, HttpStatusCode.OK);

        Assert.Null(await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None));
        Assert.Equal(1, service.Requests);
    }

    [Fact]
    public async Task A_service_that_never_comes_back_is_given_up_when_the_time_is_over()
    {
        var service = new ScriptedService(Enumerable.Repeat(HttpStatusCode.ServiceUnavailable, 10_000).ToArray());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));

        Assert.Null(await SalesReader.ReadAsync([service.Client()], "e", Pause, timeout.Token));
        Assert.True(service.Requests > 1, $"{service.Requests} requests");
    }

    /// <summary>Answers each request with the next status of its script; with no script, refuses the connection.</summary>
    private sealed class ScriptedService(params HttpStatusCode[] script) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => _requests;

        public TicketingApiClient Client() => new(new HttpClient(this) { BaseAddress = new Uri("http://127.0.0.1:1/") });

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _requests);
            if (script.Length == 0) throw new HttpRequestException("Connection refused");
            var status = script[Math.Min(n, script.Length) - 1];
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(status == HttpStatusCode.OK ? Report : "{}", Encoding.UTF8, "application/json"),
            });
        }
    }
}
