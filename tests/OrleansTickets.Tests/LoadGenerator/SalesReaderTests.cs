using System.Net;
using System.Text;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The verification's read of /sales waits out a service that says to come back, or whose report holds shards that
/// cannot give their own count yet, and nothing else.
/// </summary>
public sealed class SalesReaderTests
{
    private const string Report = """{"eventId":"e","ticketTypes":[{"id":"ga","capacity":4,"sold":4,"remaining":0,"known":true,"shards":[]}]}""";

    // Shard 1 could not read its database: its numbers are its first block's, a guess.
    private const string Guessing = """
        {"eventId":"e","ticketTypes":[{"id":"ga","capacity":4,"sold":2,"remaining":2,"known":false,"shards":[
          {"index":0,"capacity":2,"sold":2,"remaining":0,"status":"soldOut","known":true},
          {"index":1,"capacity":2,"sold":0,"remaining":2,"status":"unavailable","known":false}]}]}
        """;
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
    public async Task A_report_of_another_event_is_no_report()
    {
        // Not a report to check: the verification then fails as for a report it cannot read.
        var service = new ScriptedService(HttpStatusCode.OK) { Bodies = [Report.Replace("\"e\"", "\"warm-up\"", StringComparison.Ordinal)] };

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None);

        Assert.Null(sales);
        Assert.Equal(1, service.Requests);
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

    [Fact]
    public async Task A_report_whose_shard_does_not_say_whether_it_is_known_is_no_report()
    {
        var service = new ScriptedService(HttpStatusCode.OK) { Bodies = [Guessing.Replace(""","known":false""", "", StringComparison.Ordinal).Replace(""","known":true""", "", StringComparison.Ordinal)] };

        Assert.Null(await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None));
        // The same report saying it is read as it says.
        Assert.NotNull(await SalesReader.ReadAsync([new ScriptedService(HttpStatusCode.OK) { Bodies = [Guessing] }.Client()], "e", Pause,
            new CancellationTokenSource(TimeSpan.FromSeconds(3)).Token, settleLimit: TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task A_report_whose_type_does_not_say_whether_it_is_known_is_no_report()
    {
        var service = new ScriptedService(HttpStatusCode.OK) { Bodies = [Report.Replace(""","known":true""", "", StringComparison.Ordinal)] };

        Assert.Null(await SalesReader.ReadAsync([service.Client()], "e", Pause, new CancellationTokenSource(TimeSpan.FromSeconds(3)).Token));
    }

    [Fact]
    public async Task A_report_whose_type_is_not_known_though_every_shard_is_is_asked_for_again()
    {
        // A shard's report that leaves out tickets operators added says "known" of itself; only the type says otherwise.
        var missing = Report.Replace("\"known\":true,\"shards\":[]",
            "\"known\":false,\"shards\":[{\"index\":0,\"capacity\":4,\"sold\":4,\"remaining\":0,\"status\":\"sold-out\",\"known\":true}]", StringComparison.Ordinal);
        Assert.NotEqual(Report, missing);
        var service = new ScriptedService(HttpStatusCode.OK, HttpStatusCode.OK) { Bodies = [missing, Report] };

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None);

        Assert.True(Assert.Single(sales!.TicketTypes).Known);
        Assert.Equal(2, service.Requests);
    }

    [Fact]
    public async Task A_report_with_a_shard_that_cannot_give_its_own_count_is_asked_for_again()
    {
        var service = new ScriptedService(HttpStatusCode.OK, HttpStatusCode.OK) { Bodies = [Guessing, Report] };

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, CancellationToken.None);

        Assert.Equal(4L, Assert.Single(sales!.TicketTypes).Sold);
        Assert.Equal(2, service.Requests);
    }

    [Fact]
    public async Task A_report_that_never_settles_is_returned_as_it_is_when_the_time_is_over()
    {
        var service = new ScriptedService(HttpStatusCode.OK) { Bodies = [Guessing] };
        // Long enough for the first answer to be read on a busy machine (its JSON code compiled first), or there would
        // be no report to return.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, timeout.Token);

        // The checks then compare what it says, and fail where the guess disagrees.
        var shard = Assert.Single(sales!.TicketTypes).Shards[1];
        Assert.Equal((false, "unavailable", false), (shard.Known, shard.Status, shard.Counted));
        Assert.True(service.Requests > 1, $"{service.Requests} requests");
    }

    [Fact]
    public async Task A_report_that_never_settles_is_asked_for_again_only_up_to_its_own_limit()
    {
        // The audit shares one time limit among /sales, the databases and the export: a shard down for good must not
        // use all of it on /sales.
        var service = new ScriptedService(HttpStatusCode.OK) { Bodies = [Guessing] };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var sales = await SalesReader.ReadAsync([service.Client()], "e", Pause, timeout.Token, settleLimit: TimeSpan.FromMilliseconds(300));

        Assert.NotNull(sales);
        Assert.False(timeout.IsCancellationRequested);
        Assert.True(service.Requests > 1, $"{service.Requests} requests");
    }

    /// <summary>
    /// Answers each request with the next status of its script, and a 200 with the next of <see cref="Bodies"/> (the
    /// last repeats; a plain report without); with no script, refuses the connection.
    /// </summary>
    private sealed class ScriptedService(params HttpStatusCode[] script) : HttpMessageHandler
    {
        private int _requests;
        private int _reports;

        public int Requests => _requests;

        public string[] Bodies { get; init; } = [Report];

        public TicketingApiClient Client() => new(new HttpClient(this) { BaseAddress = new Uri("http://127.0.0.1:1/") });

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _requests);
            if (script.Length == 0) throw new HttpRequestException("Connection refused");
            var status = script[Math.Min(n, script.Length) - 1];
            var body = status == HttpStatusCode.OK ? Bodies[Math.Min(Interlocked.Increment(ref _reports), Bodies.Length) - 1] : "{}";
            return Task.FromResult(new HttpResponseMessage(status)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            });
        }
    }
}
