using System.Net;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// The service behind a gateway that speaks HTTP/2 to it over plain TCP (README, "HTTP/2"): an endpoint configured
/// for HTTP/2 alone serves the buyers' API with the same answers as HTTP/1.1, and the load generator's
/// <c>--http2-connections</c> really speaks HTTP/2 to it.
/// </summary>
public sealed class Http2EndpointTests : IAsyncLifetime
{
    private readonly TestStorage _storage = TestStorage.Sqlite();
    private ApiHost _host = null!;
    private HttpClient _http2 = null!;

    public async Task InitializeAsync()
    {
        // An endpoint named in the configuration, as the README and scripts/bench.sh --http2 give one; it replaces the
        // host's own address.
        _host = await ApiHost.StartAsync(_storage, new Dictionary<string, string?>
        {
            ["Kestrel:Endpoints:Http2:Url"] = $"http://127.0.0.1:{FreePort.Next()}",
            ["Kestrel:Endpoints:Http2:Protocols"] = "Http2",
        });
        _http2 = new HttpClient(new Http2Only(new SocketsHttpHandler())) { BaseAddress = _host.Client.BaseAddress };
    }

    public async Task DisposeAsync()
    {
        _http2.Dispose();
        await _host.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task Orders_replays_and_refusals_are_the_same_answers_over_http2()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http2.CreateEventAsync("h2-fest", capacity: 5, shards: 1)).StatusCode);

        var created = await _http2.OrderAsync("h2-fest", 3, key: "h2-basket-1");
        Assert.Equal((HttpStatusCode.Created, HttpVersion.Version20), (created.StatusCode, created.Version));
        var replay = await _http2.OrderAsync("h2-fest", 3, key: "h2-basket-1");
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(created.Headers.Location, replay.Headers.Location);
        Assert.Equal(await created.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());

        var soldOut = await _http2.OrderAsync("h2-fest", 3, key: "h2-basket-2");
        Assert.Equal(HttpStatusCode.Conflict, soldOut.StatusCode);
        Assert.Equal("application/problem+json", soldOut.Content.Headers.ContentType?.MediaType);
        Assert.Equal(2, (await soldOut.JsonAsync()).GetProperty("remaining").GetInt64());

        var bad = await _http2.OrderAsync("h2-fest", 0);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        Assert.Equal(3, await _http2.SoldAsync("h2-fest"));
    }

    [Fact]
    public async Task A_key_sent_with_spaces_around_it_over_http2_is_the_same_key_as_without_them()
    {
        // HTTP/1.1's parser drops the spaces around a header's value; HTTP/2 carries them through (a gateway may pass
        // them on), and RFC 9110 says they are not part of the value. A retry that differs only by them is a replay.
        Assert.Equal(HttpStatusCode.Created, (await _http2.CreateEventAsync("h2-spaces", capacity: 10, shards: 2)).StatusCode);

        var created = await OrderWithRawKeyAsync("h2-spaces", "h2-key-1 ");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var replay = await OrderWithRawKeyAsync("h2-spaces", " h2-key-1");
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(created.Headers.Location, replay.Headers.Location);
        var plain = await _http2.OrderAsync("h2-spaces", 2, key: "h2-key-1");
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal(created.Headers.Location, plain.Headers.Location);
        Assert.Equal(2, await _http2.SoldAsync("h2-spaces"));

        await ApiContractTests.AssertProblemAsync(await OrderWithRawKeyAsync("h2-spaces", "   "), HttpStatusCode.BadRequest, "validation");
        Assert.Equal(2, await _http2.SoldAsync("h2-spaces"));
    }

    [Fact]
    public async Task A_header_that_is_not_utf8_gets_a_400_problem_for_its_own_request_over_http2()
    {
        // HTTP allows such bytes in a value, and gateways pass them on. Kestrel's default decoding threw on them, and over
        // HTTP/2 that ended the whole connection (every buyer's request the gateway had multiplexed onto it) where
        // HTTP/1.1 refuses the one request.
        Assert.Equal(HttpStatusCode.Created, (await _http2.CreateEventAsync("h2-bytes", capacity: 10, shards: 1)).StatusCode);
        var (latin1, connections) = CountingClient(System.Text.Encoding.Latin1);
        using var client = latin1;
        // "café" with its last letter as the single byte 0xE9: not UTF-8.
        var refused = await OrderWithRawKeyAsync("h2-bytes", "caf\u00e9", latin1);

        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.BadRequest, "validation");
        Assert.Equal(0, await _http2.SoldAsync("h2-bytes"));
        // The connection it came on still serves: a client opens a new one, unseen, after the server ends one.
        Assert.Equal(HttpStatusCode.OK, (await latin1.GetAsync("/api/events/h2-bytes")).StatusCode);
        Assert.Equal(1, connections.Value);
    }

    [Fact]
    public async Task Too_many_headers_get_431_for_their_own_request_over_http2()
    {
        // What the README tells a gateway's operator: Kestrel's header count limit refuses the request, not the
        // connection. (Its 32 KB limit on a header block it announces in HTTP/2's settings, and .NET's client then
        // refuses to send a larger block at all.)
        var (counted, connections) = CountingClient();
        using var client = counted;
        var many = new HttpRequestMessage(HttpMethod.Get, "/api/events/h2-none");
        for (var i = 0; i < 120; i++) many.Headers.TryAddWithoutValidation($"x-header-{i}", "v");

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, (await counted.SendAsync(many)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await counted.GetAsync("/api/events/h2-none")).StatusCode);
        Assert.Equal(1, connections.Value);
    }

    [Fact]
    public async Task An_export_cursor_of_20_KB_reaches_the_api_over_http2_as_over_http11()
    {
        // Kestrel holds an HTTP/2 path to the HTTP/1.1 request line's limit: at the default 8 KB this stream was reset
        // (PROTOCOL_ERROR) before the API saw it. The same long cursor reaches the API on both protocols.
        Assert.Equal(HttpStatusCode.Created, (await _http2.CreateEventAsync("h2-export", capacity: 5, shards: 1)).StatusCode);

        var response = await _http2.GetAsync("/api/events/h2-export/orders?after=" + new string('A', 20_000));

        Assert.Equal(HttpVersion.Version20, response.Version);
        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        Assert.True(problem.GetProperty("errors").TryGetProperty("after", out _), problem.GetRawText());
    }

    /// <summary>An order of 2 whose key is sent as given, past the client's header checks, by <paramref name="client"/> or the test's.</summary>
    private Task<HttpResponseMessage> OrderWithRawKeyAsync(string eventId, string key, HttpClient? client = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/events/{eventId}/orders")
        {
            Content = new StringContent("{\"ticketTypeId\":\"ga\",\"quantity\":2,\"buyer\":{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\"}}",
                System.Text.Encoding.UTF8, "application/json"),
        };
        Assert.True(request.Headers.TryAddWithoutValidation("Idempotency-Key", key));
        return (client ?? _http2).SendAsync(request);
    }

    [Fact]
    public async Task The_endpoint_speaks_http2_alone_so_an_http11_request_is_refused_by_kestrel()
    {
        // What makes the test above an HTTP/2 test: over HTTP/1.1 the same endpoint reaches no API at all. The API would
        // answer this path 404 (no such event); Kestrel answers 400 before any of it runs.
        var refused = await _host.Client.GetAsync("/api/events/h2-none");
        Assert.Equal((HttpStatusCode.BadRequest, HttpVersion.Version11), (refused.StatusCode, refused.Version));
    }

    [Fact]
    public async Task The_load_generators_http2_client_buys_over_http2()
    {
        Assert.Equal(HttpStatusCode.Created, (await _http2.CreateEventAsync("h2-load", capacity: 10, shards: 1)).StatusCode);
        // Without the request's own version set from the client's, SendAsync would speak HTTP/1.1 and fail here.
        using var http = PooledHttpClient.Create(_host.Client.BaseAddress!, connections: 1, http2: true);

        var outcome = await new TicketingApiClient(http)
            .PostOrderAsync("/api/events/h2-load/orders", PreparedOrder.Create("ga", 2, 1), CancellationToken.None);

        Assert.Equal(201, outcome.StatusCode);
        Assert.Equal(2, await _http2.SoldAsync("h2-load"));
        // The verification's own reads (audit mode) speak HTTP/2 too.
        var sales = await SalesReader.ReadAsync([_host.Client.BaseAddress!], http2: true, "h2-load", CancellationToken.None);
        Assert.Equal(2, sales?.TicketTypes.Sum(t => t.Sold));
        var exported = await ExportReader.ReadAsync([_host.Client.BaseAddress!], http2: true, "h2-load", CancellationToken.None);
        Assert.Equal((2, 2L), (exported?.Orders.Sum(o => o.Tickets.Count), exported?.TicketsSold));
    }

    /// <summary>An HTTP/2 client to the endpoint that counts the connections it opens.</summary>
    private (HttpClient Client, ConnectionCount Connections) CountingClient(System.Text.Encoding? headerEncoding = null)
    {
        var connections = new ConnectionCount();
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = (context, cancellation) =>
            {
                Interlocked.Increment(ref connections.Value);
                return ClientSockets.ConnectAsync(context, cancellation);
            },
        };
        if (headerEncoding is not null) handler.RequestHeaderEncodingSelector = (_, _) => headerEncoding;
        return (new HttpClient(new Http2Only(handler)) { BaseAddress = _host.Client.BaseAddress }, connections);
    }

    private sealed class ConnectionCount
    {
        public int Value;
    }

    /// <summary>Sends every request as HTTP/2 without asking first, as a gateway configured for it does.</summary>
    private sealed class Http2Only(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Version = HttpVersion.Version20;
            request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
