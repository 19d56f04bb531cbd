using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Api.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>Only operators create events, add capacity and drain shards; buyers need nothing to buy.</summary>
public sealed class OperatorAccessTests
{
    private const string Key = "operator-key-for-the-tests-0001";

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    public void Without_a_key_loopback_callers_are_operators(string address) =>
        Assert.Null(OperatorAccess.Refusal(Caller(address), key: null));

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.7")]
    [InlineData("X-Original-For", "203.0.113.7")]
    [InlineData("Forwarded", "for=203.0.113.7")]
    public void Without_a_key_a_request_a_proxy_passed_on_is_refused_even_from_loopback(string header, string value)
    {
        var caller = Caller("127.0.0.1");
        caller.Request.Headers[header] = value;
        Assert.Equal(StatusCodes.Status403Forbidden, OperatorAccess.Refusal(caller, key: null)?.StatusCode);

        caller.Request.Headers.Authorization = "Bearer " + Key;
        Assert.Null(OperatorAccess.Refusal(caller, Key));
    }

    [Theory]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "null")]
    [InlineData("Origin", "http://localhost:5080")]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Sec-Fetch-Site", "same-origin")]
    [InlineData("Host", "evil.example:5080")]
    [InlineData("Host", "127.0.0.1.nip.io")]
    public void Without_a_key_a_web_page_on_this_machine_is_not_an_operator(string header, string value)
    {
        // A page the operator's browser opens can post a drain to localhost without asking first, and a page whose
        // name resolves to 127.0.0.1 can read the export; curl and the scripts send none of these.
        var caller = Caller("127.0.0.1");
        caller.Request.Headers[header] = value;
        var refusal = OperatorAccess.Refusal(caller, key: null);
        Assert.Equal(StatusCodes.Status403Forbidden, refusal?.StatusCode);
        Assert.Equal(Problems.OperatorsOnly, refusal?.ProblemDetails.Type);

        caller.Request.Headers.Authorization = "Bearer " + Key;
        Assert.Null(OperatorAccess.Refusal(caller, Key));
    }

    [Theory]
    [InlineData("Host", "localhost:5080")]
    [InlineData("Host", "LOCALHOST")]
    [InlineData("Host", "127.0.0.1:5080")]
    [InlineData("Host", "127.0.0.2")]
    [InlineData("Host", "[::1]:5080")]
    [InlineData("Sec-Fetch-Site", "none")]
    // As HTTP/2 delivers a padded value (HTTP/1.1's parser trims it).
    [InlineData("Sec-Fetch-Site", " none\t")]
    public void Without_a_key_a_tool_or_a_typed_address_on_this_machine_is_an_operator(string header, string value)
    {
        var caller = Caller("127.0.0.1");
        caller.Request.Headers[header] = value;
        Assert.Null(OperatorAccess.Refusal(caller, key: null));
    }

    [Theory]
    [InlineData("203.0.113.7")]
    [InlineData("2001:db8::7")]
    [InlineData("::ffff:203.0.113.7")]
    public void Without_a_key_callers_from_the_network_are_refused_with_403(string address)
    {
        var refusal = OperatorAccess.Refusal(Caller(address), key: null);
        Assert.Equal(StatusCodes.Status403Forbidden, refusal?.StatusCode);
        Assert.Equal(Problems.OperatorsOnly, refusal?.ProblemDetails.Type);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer")]
    [InlineData("Bearer operator-key-for-the-tests-0002")]
    [InlineData("Bearer operator-key-for-the-tests-000")]
    [InlineData("Basic operator-key-for-the-tests-0001")]
    public void With_a_key_even_loopback_callers_must_send_it(string? authorization)
    {
        var caller = Caller("127.0.0.1");
        if (authorization is not null) caller.Request.Headers.Authorization = authorization;
        var refusal = OperatorAccess.Refusal(caller, Key);
        Assert.Equal(StatusCodes.Status401Unauthorized, refusal?.StatusCode);
        Assert.Equal(Problems.OperatorKeyRequired, refusal?.ProblemDetails.Type);
        Assert.Equal("Bearer", caller.Response.Headers.WWWAuthenticate.ToString());
    }

    [Theory]
    [InlineData("Bearer " + Key)]
    [InlineData("bearer " + Key)]
    [InlineData(" Bearer " + Key + "\t ")]
    [InlineData("Bearer   " + Key)]
    public void With_a_key_any_caller_that_sends_it_is_an_operator(string authorization)
    {
        var caller = Caller("203.0.113.7");
        caller.Request.Headers.Authorization = authorization;
        Assert.Null(OperatorAccess.Refusal(caller, Key));
    }

    [Fact]
    public async Task Over_http_a_configured_key_guards_every_operator_endpoint_and_buyers_need_none()
    {
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Api:Operators:Key"] = Key });
        var http = host.Client;

        await AssertKeyRequiredAsync(await http.CreateEventAsync("guarded", capacity: 20, shards: 2));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/events/guarded")).StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.Equal(HttpStatusCode.Created, (await http.CreateEventAsync("guarded", capacity: 20, shards: 2)).StatusCode);
        http.DefaultRequestHeaders.Authorization = null;

        // Buyers and readers send no key.
        Assert.Equal(HttpStatusCode.Created, (await http.OrderAsync("guarded", 2)).StatusCode);
        Assert.Equal(2, await http.SoldAsync("guarded"));

        // The inventory endpoints refuse before reading the body, and change nothing.
        await AssertKeyRequiredAsync(await http.PostRawAsync("/api/events/guarded/ticket-types/ga/capacity", "{\"quantity\":5}", key: "add-5"));
        await AssertKeyRequiredAsync(await http.PostRawAsync("/api/events/guarded/ticket-types/ga/shards/0/drain", ""));
        // The buyers' data is the back office's: the export refuses too.
        await AssertKeyRequiredAsync(await http.GetAsync("/api/events/guarded/orders"));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        Assert.Single((await (await http.GetAsync("/api/events/guarded/orders")).JsonAsync()).GetProperty("orders").EnumerateArray());
        http.DefaultRequestHeaders.Authorization = null;
        var sales = await (await http.GetAsync("/api/events/guarded/sales")).JsonAsync();
        Assert.Equal(20, sales.GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64());
        Assert.Equal(18, sales.GetProperty("ticketTypes")[0].GetProperty("remaining").GetInt64());
        // The type's totals would be the same had the drain run (its tickets would have moved to shard 1): the shard
        // itself must still be open, with its own tickets.
        var drained = sales.GetProperty("ticketTypes")[0].GetProperty("shards")[0];
        Assert.Equal((false, 10L), (drained.GetProperty("retired").GetBoolean(), drained.GetProperty("capacity").GetInt64()));
    }

    /// <summary>A 401 that says what to send, as RFC 9110 asks of every 401: the scheme in WWW-Authenticate.</summary>
    private static async Task AssertKeyRequiredAsync(HttpResponseMessage response)
    {
        await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.Unauthorized, "operator-key-required");
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    private static DefaultHttpContext Caller(string address) =>
        new() { Connection = { RemoteIpAddress = IPAddress.Parse(address) } };

    [Theory]
    [InlineData(null, true)]
    [InlineData(Key, false)]
    public async Task Without_a_key_the_service_warns_at_start_that_every_local_caller_is_an_operator(string? key, bool warned)
    {
        using var storage = TestStorage.Sqlite();
        var log = new WarningCollector();
        await using (var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Api:Operators:Key"] = key },
            services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log)))
        {
        }
        Assert.Equal(warned, log.Saw("Api:Operators:Key is not set"));
    }
}
