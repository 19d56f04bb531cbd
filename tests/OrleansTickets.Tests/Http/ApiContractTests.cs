using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>The HTTP contract, status code by status code, against the real service over real HTTP.</summary>
public sealed class ApiContractTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private const string ProblemBase = "https://orleanstickets.dev/problems/";
    private HttpClient Http => fixture.Host.Client;

    [Fact]
    public async Task Creating_the_same_event_again_is_200_with_the_event_so_an_operator_may_retry()
    {
        // An operator whose create got no clear answer (a timeout, a 503 after the write) sends it again. Their own
        // create made the event, so "409, an event with this id exists" would be wrong.
        var first = await Http.CreateEventAsync("retry-fest", capacity: 1_000, shards: 4);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        var again = await Http.CreateEventAsync("retry-fest", capacity: 1_000, shards: 4);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("/api/events/retry-fest", again.Headers.Location?.OriginalString);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        await AssertProblemAsync(await Http.CreateEventAsync("retry-fest", capacity: 1_001, shards: 4), HttpStatusCode.Conflict, "event-exists");
    }

    [Fact]
    public async Task A_create_retried_after_sales_answers_the_event_as_it_is_now()
    {
        Assert.Equal(HttpStatusCode.Created, (await Http.CreateEventAsync("retry-later", capacity: 10, shards: 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("retry-later", 3)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("/api/events/retry-later/ticket-types/ga/capacity", new { quantity = 5 })).StatusCode);

        var again = await Http.CreateEventAsync("retry-later", capacity: 10, shards: 2);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var type = (await again.JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((15L, 12L), (type.GetProperty("capacity").GetInt64(), type.GetProperty("remaining").GetInt64()));
    }

    [Fact]
    public async Task A_create_needs_no_Idempotency_Key_but_a_malformed_one_is_400_and_creates_nothing()
    {
        const string body = """
            {"id":"keyed-fest","name":"Keyed","ticketTypes":[{"id":"ga","name":"GA","price":10,"currency":"EUR","capacity":10,"shards":1,"maxPerOrder":2}]}
            """;
        foreach (var bad in new[] { new string('k', 101), "tab\there" })
        {
            var refused = await AssertProblemAsync(await Http.PostRawAsync("/api/events", body, key: bad), HttpStatusCode.BadRequest, "validation");
            Assert.True(refused.GetProperty("errors").TryGetProperty("Idempotency-Key", out _), refused.ToString());
        }
        await AssertProblemAsync(await Http.GetAsync("/api/events/keyed-fest"), HttpStatusCode.NotFound, "event-not-found");

        Assert.Equal(HttpStatusCode.Created, (await Http.PostRawAsync("/api/events", body, key: "create-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostRawAsync("/api/events", body)).StatusCode);
    }

    [Fact]
    public async Task Creating_an_event_returns_201_then_409_for_the_same_id_with_another_definition()
    {
        var created = await Http.CreateEventAsync("rock-fest", capacity: 1_000, shards: 4);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/events/rock-fest", created.Headers.Location!.OriginalString);
        var body = await created.JsonAsync();
        Assert.Equal("rock-fest", body.GetProperty("id").GetString());
        var type = body.GetProperty("ticketTypes")[0];
        Assert.Equal(49.5m, type.GetProperty("price").GetDecimal());
        Assert.Equal(1_000, type.GetProperty("remaining").GetInt64());

        var again = await Http.CreateEventAsync("rock-fest");
        await AssertProblemAsync(again, HttpStatusCode.Conflict, "event-exists");
    }

    [Fact]
    public async Task Reading_an_event_shows_remaining_and_unknown_events_are_404()
    {
        await Http.CreateEventAsync("read-me", capacity: 50, shards: 2);
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("read-me", 4)).StatusCode);

        var remaining = 0L;
        for (var attempt = 0; attempt < 30 && remaining != 46; attempt++)
        {
            // remaining may lag by up to a second.
            var read = await Http.GetAsync("/api/events/read-me");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            remaining = (await read.JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("remaining").GetInt64();
            if (remaining != 46) await Task.Delay(200);
        }
        Assert.Equal(46, remaining);

        await AssertProblemAsync(await Http.GetAsync("/api/events/nope"), HttpStatusCode.NotFound, "event-not-found");
        await AssertProblemAsync(await Http.GetAsync("/api/events/NOT_A_SLUG"), HttpStatusCode.NotFound, "event-not-found");
        await AssertProblemAsync(await Http.GetAsync("/api/events/nope/sales"), HttpStatusCode.NotFound, "event-not-found");
    }

    [Fact]
    public async Task Buying_returns_201_with_the_order_which_can_be_read_back()
    {
        await Http.CreateEventAsync("buy", capacity: 100, shards: 3);
        var response = await Http.OrderAsync("buy", 3);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = await response.JsonAsync();
        var orderId = order.GetProperty("orderId").GetString()!;
        Assert.Equal($"/api/orders/{orderId}", response.Headers.Location!.OriginalString);
        Assert.Equal("buy", order.GetProperty("eventId").GetString());
        Assert.Equal("ga", order.GetProperty("ticketTypeId").GetString());
        Assert.Equal(3, order.GetProperty("quantity").GetInt32());
        Assert.Equal(49.5m, order.GetProperty("unitPrice").GetDecimal());
        Assert.Equal(148.5m, order.GetProperty("total").GetDecimal());
        Assert.Equal("EUR", order.GetProperty("currency").GetString());
        Assert.Equal("ada@example.com", order.GetProperty("buyer").GetProperty("email").GetString());
        Assert.Equal(3, order.GetProperty("tickets").GetArrayLength());
        Assert.True(order.GetProperty("createdAt").TryGetDateTimeOffset(out _));

        var read = await Http.GetAsync($"/api/orders/{orderId}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(order.GetRawText(), (await read.JsonAsync()).GetRawText());

        await AssertProblemAsync(await Http.GetAsync("/api/orders/buy.ga.0.AAAAAAAAAAAAAAAAAAAAAA"), HttpStatusCode.NotFound, "order-not-found");
        await AssertProblemAsync(await Http.GetAsync("/api/orders/garbage"), HttpStatusCode.NotFound, "order-not-found");
    }

    [Theory]
    [InlineData("/api/events/{0}", "event-not-found")]
    [InlineData("/api/events/{0}/sales", "event-not-found")]
    [InlineData("/api/orders/{0}", "order-not-found")]
    [InlineData("/api/events/echo-fest/ticket-types/{0}/capacity", "ticket-type-not-found")]
    public async Task A_404_repeats_an_id_from_the_path_only_when_it_has_an_id_s_shape(string template, string problem)
    {
        await Http.CreateEventAsync("echo-fest", capacity: 10, shards: 1);
        Task<HttpResponseMessage> Ask(string id)
        {
            var path = string.Format(CultureInfo.InvariantCulture, template, Uri.EscapeDataString(id));
            return template.EndsWith("/capacity", StringComparison.Ordinal) ? Http.PostAsJsonAsync(path, new { quantity = 1 }) : Http.GetAsync(path);
        }

        // Kilobytes of path, a line break, a right-to-left override: what DisplayText keeps out of every other answer.
        foreach (var odd in new[] { new string('x', 4_000), "a\nb", "\u202Eevil" })
        {
            var detail = (await AssertProblemAsync(await Ask(odd), HttpStatusCode.NotFound, problem)).GetProperty("detail").GetString()!;
            Assert.True(detail.Length < 200 && !detail.Contains('\n') && !detail.Contains('\u202E'), $"The detail repeats the path: {detail}");
        }
        // An id that could be one is named, so that the client sees which of its ids was not found.
        var plain = template.StartsWith("/api/orders", StringComparison.Ordinal) ? "echo-fest.ga.0.01M96Y3W6T79gusm71pgZdYI_eqGpW5w" : "no-such-id";
        var named = (await AssertProblemAsync(await Ask(plain), HttpStatusCode.NotFound, problem)).GetProperty("detail").GetString();
        Assert.Contains($"'{plain}'", named);
    }

    [Fact]
    public async Task A_replay_returns_200_with_the_same_order_and_another_body_is_422()
    {
        await Http.CreateEventAsync("replay", capacity: 100, shards: 2);
        var first = await Http.OrderAsync("replay", 2, key: "order-123");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        var again = await Http.OrderAsync("replay", 2, key: "order-123");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetRawText(), (await again.JsonAsync()).GetRawText());

        await AssertProblemAsync(await Http.OrderAsync("replay", 3, key: "order-123"), HttpStatusCode.UnprocessableEntity, "idempotency-key-conflict");
        Assert.Equal(2, await Http.SoldAsync("replay"));
    }

    [Fact]
    public async Task Prices_keep_their_currency_s_decimals_in_the_event_the_order_its_replay_and_its_read()
    {
        var created = await Http.PostRawAsync("/api/events", "{\"id\":\"prices\",\"name\":\"Prices\",\"ticketTypes\":[" +
            "{\"id\":\"eur\",\"name\":\"EUR\",\"price\":10.5,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4}," +
            "{\"id\":\"yen\",\"name\":\"JPY\",\"price\":1500.00,\"currency\":\"JPY\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4}," +
            "{\"id\":\"bhd\",\"name\":\"BHD\",\"price\":1.5,\"currency\":\"BHD\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4}]}");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var types = (await created.JsonAsync()).GetProperty("ticketTypes");
        Assert.Equal(["10.50", "1500", "1.500"], types.EnumerateArray().Select(t => t.GetProperty("price").GetRawText()));

        foreach (var (type, unitPrice, total) in new[] { ("eur", "10.50", "31.50"), ("yen", "1500", "4500"), ("bhd", "1.500", "4.500") })
        {
            var first = await Http.OrderAsync("prices", 3, key: "price-" + type, ticketTypeId: type);
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            var order = await first.JsonAsync();
            Assert.Equal(unitPrice, order.GetProperty("unitPrice").GetRawText());
            Assert.Equal(total, order.GetProperty("total").GetRawText());

            // The replay and the read come from the shard's database, which stores whole cents.
            var replay = await Http.OrderAsync("prices", 3, key: "price-" + type, ticketTypeId: type);
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            // Where the order lives, as on the 201: a 200 can also answer a first request the service retried itself.
            Assert.Equal(first.Headers.Location, replay.Headers.Location);
            Assert.Equal(order.GetRawText(), (await replay.JsonAsync()).GetRawText());
            var read = await Http.GetAsync($"/api/orders/{order.GetProperty("orderId").GetString()}");
            Assert.Equal(order.GetRawText(), (await read.JsonAsync()).GetRawText());
        }
    }

    [Theory]
    [InlineData("1e-29")]
    [InlineData("10.0000000000000000000000000001")]
    [InlineData("1500.00000000000000000000000001")]
    public async Task A_price_with_more_digits_than_a_decimal_holds_is_refused_not_rounded(string price)
    {
        // Read as a decimal these would round to 0, 10 and 1500, and pass every check as a price nobody sent.
        var response = await Http.PostRawAsync("/api/events", "{\"id\":\"too-precise\",\"name\":\"Too precise\",\"ticketTypes\":[" +
            "{\"id\":\"ga\",\"name\":\"GA\",\"price\":" + price + ",\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4}]}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("ticketTypes[0].price", problem.GetProperty("field").GetString());
        // The rule broken, not only where: "could not read" a number that reads fine says nothing.
        Assert.Contains("significant digits or decimal places", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/api/events/too-precise")).StatusCode);
    }

    [Theory]
    [InlineData("1e2", "100.00")]
    [InlineData("1.5E+1", "15.00")]
    [InlineData("0.10000000000000000000000000000000", "0.10")]
    [InlineData("2500e-2", "25.00")]
    public async Task A_price_written_with_an_exponent_or_trailing_zeros_is_read_exactly(string price, string shown)
    {
        var id = "exact-" + Guid.NewGuid().ToString("N")[..8];
        var created = await Http.PostRawAsync("/api/events", "{\"id\":\"" + id + "\",\"name\":\"Exact\",\"ticketTypes\":[" +
            "{\"id\":\"ga\",\"name\":\"GA\",\"price\":" + price + ",\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4}]}");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(shown, (await created.JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("price").GetRawText());
    }

    [Fact]
    public async Task Concurrent_replays_over_http_create_one_order()
    {
        await Http.CreateEventAsync("replay-many", capacity: 100, shards: 4);
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Http.OrderAsync("replay-many", 1, key: "same")));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.OK }));
        var ids = await Task.WhenAll(responses.Select(async r => (await r.JsonAsync()).GetProperty("orderId").GetString()));
        Assert.Single(ids.Distinct());
        Assert.Equal(1, await Http.SoldAsync("replay-many"));
    }

    [Fact]
    public async Task Sold_out_is_409_with_the_remaining_count()
    {
        await Http.CreateEventAsync("small", capacity: 5, shards: 1);
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("small", 3)).StatusCode);

        var refused = await Http.OrderAsync("small", 3);
        var problem = await AssertProblemAsync(refused, HttpStatusCode.Conflict, "sold-out");
        Assert.Equal(2, problem.GetProperty("remaining").GetInt64());
        Assert.Equal("Fewer than 3 tickets of this type can be sold.", problem.GetProperty("detail").GetString());
        Assert.Equal(3, await Http.SoldAsync("small"));

        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("small", 2)).StatusCode);
        var last = await AssertProblemAsync(await Http.OrderAsync("small", 1), HttpStatusCode.Conflict, "sold-out");
        Assert.Equal(0, last.GetProperty("remaining").GetInt64());
        Assert.Equal("No ticket of this type can be sold.", last.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_order_above_the_types_limit_is_400_naming_the_limit_and_sells_nothing()
    {
        await Http.CreateEventAsync("one-each", capacity: 5, shards: 1, maxPerOrder: 1);

        var refused = await AssertProblemAsync(await Http.OrderAsync("one-each", 2), HttpStatusCode.BadRequest, "validation");
        Assert.Equal("At most 1 ticket per order.", refused.GetProperty("errors").GetProperty("quantity")[0].GetString());
        Assert.Equal(0, await Http.SoldAsync("one-each"));
    }

    [Fact]
    public void Every_answer_is_written_from_generated_json_metadata_and_nothing_falls_back_to_reflection()
    {
        // With reflection in the chain, the first sold-out 409 built reflection metadata for the interfaces of its
        // boxed 'remaining' (GeneratedJsonOnly). A type that no generated context describes must fail here, not fall back.
        var options = fixture.Host.Services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        Assert.DoesNotContain(options.TypeInfoResolverChain, resolver => resolver is DefaultJsonTypeInfoResolver);
        Assert.Throws<NotSupportedException>(() => options.GetTypeInfo(typeof(NotInAnyContext)));
        var problem = JsonSerializer.Serialize(new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = 409, Extensions = { ["remaining"] = 2L } }, options);
        Assert.Equal("""{"status":409,"remaining":2}""", problem);
    }

    private sealed record NotInAnyContext(string Name);

    [Fact]
    public async Task Unknown_event_or_ticket_type_is_404()
    {
        await Http.CreateEventAsync("known", capacity: 5, shards: 1);
        await AssertProblemAsync(await Http.OrderAsync("unknown", 1), HttpStatusCode.NotFound, "event-not-found");
        await AssertProblemAsync(await Http.OrderAsync("known", 1, ticketTypeId: "vip"), HttpStatusCode.NotFound, "ticket-type-not-found");
    }

    [Fact]
    public async Task Sales_report_every_shard()
    {
        await Http.CreateEventAsync("sales", capacity: 10, shards: 3);
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("sales", 2)).StatusCode);
        var sales = await (await Http.GetAsync("/api/events/sales/sales")).JsonAsync();
        Assert.Equal("sales", sales.GetProperty("eventId").GetString());
        var type = sales.GetProperty("ticketTypes")[0];
        Assert.Equal((10, 2, 8), (type.GetProperty("capacity").GetInt64(), type.GetProperty("sold").GetInt64(), type.GetProperty("remaining").GetInt64()));
        var shards = type.GetProperty("shards").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], shards.Select(s => s.GetProperty("index").GetInt32()));
        Assert.Equal([4L, 3L, 3L], shards.Select(s => s.GetProperty("capacity").GetInt64()));
        Assert.All(shards, s => Assert.Equal("open", s.GetProperty("status").GetString()));
    }

    public static TheoryData<string, string> MalformedOrders => new()
    {
        { "not json", "malformed-request" },
        { "{", "malformed-request" },
        { "[]", "malformed-request" },
        { "null", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":\"two\",\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1e30,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":99999999999,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1.5,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":42,\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":\"Ada\"}", "malformed-request" },
        // Two values for one field: whichever the service picked, a proxy or log reading the other would disagree with
        // what was sold. Names match without regard to case, so "Quantity" is the same field.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"quantity\":2,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"Quantity\":2,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"name\":\"B\",\"email\":\"a@b.co\"}}", "malformed-request" },
        // Fields the service does not know: ignored, a key sent in the body made an order with no key at all.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"},\"idempotencyKey\":\"k1\"}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\",\"phone\":\"1\"}}", "malformed-request" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":0,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":-1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":101,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":11,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"" + new string('x', 201) + "\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"not-an-email\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a b@c.com\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"Ada <a@b.co>\"}}", "validation" },
        { "{\"ticketTypeId\":\"GA!\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}", "validation" },
        // A NUL cannot be stored in PostgreSQL text, and would fail every order in the same group commit.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u0000\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u001bLovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"a\\u0000@b.co\"}}", "validation" },
        // Names that would not show as what they say: a line break inside, text that reads backwards, nothing visible.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u2028Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u202Eecalevol\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u200B\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\" \\u200D \",\"email\":\"a@b.co\"}}", "validation" },
        // A joiner, non-joiner, soft hyphen or vowel separator with nothing on one side: "Ada" and "Ada" plus one look the
        // same, and are two names (and two fingerprints for one buyer's retry).
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u200DAda\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u200C\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u00ADAda\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u180E Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\u200DLovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u3164\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u034F\\uFE0F\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\uDB40\\uDC41\",\"email\":\"a@b.co\"}}", "validation" },
        // Tags after a black flag that are not a region's code: hidden text ("hi", capitals, no end, too many).
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uD83C\\uDFF4\\uDB40\\uDC68\\uDB40\\uDC69\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uD83C\\uDFF4\\uDB40\\uDC47\\uDB40\\uDC42\\uDB40\\uDC45\\uDB40\\uDC7F\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uD83C\\uDFF4\\uDB40\\uDC67\\uDB40\\uDC62\\uDB40\\uDC65\\uDB40\\uDC6E\\uDB40\\uDC67 x\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uD83C\\uDFF4\\uDB40\\uDC67\\uDB40\\uDC62\\uDB40\\uDC65\\uDB40\\uDC6E\\uDB40\\uDC67\\uDB40\\uDC67\\uDB40\\uDC67\\uDB40\\uDC7F\",\"email\":\"a@b.co\"}}", "validation" },
        // Variation selectors, which can carry a byte each: a run of them, or each behind a joiner; and two joiners in a row.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\uFE00\\uFE01\\uDB40\\uDD00\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\uDB40\\uDD00\\u200D\\uDB40\\uDD01\\u200D\\uDB40\\uDD02\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u200D\\u200C\\u200D Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u2060Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        // A selector after a space: a space has no forms, and a leading one is trimmed off before the name is stored.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\" \\uFE0FAda\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uFE0E Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        // Marks that mark nothing (first, after a space, after a direction mark), marks piled past ten on one letter,
        // and a private-use character (a logo in one font, a box in the next).
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u0301Ada\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u0903Ada\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\u20DD Lovelace\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u200F\\u0301\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada" + string.Concat(Enumerable.Repeat("\\u0301", 11)) + "\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uF8FF\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada \\uDB80\\uDC00\",\"email\":\"a@b.co\"}}", "validation" },
        // Addresses with an override that reads them backwards, or an invisible space at the end.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"\\u202Eoc.elpmaxe@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"a@b.co\\u200B\"}}", "validation" },
        // What names may carry but an address may not: a soft hyphen, a direction mark, a joiner between Latin letters.
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"a\\u00ADda@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"ada\\u200E@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"mehr\\u200Cdad@example.ir\"}}", "validation" },
        // Addresses MailAddress takes that no mailbox has: a host that is not a domain name, a local part past 64 bytes.
        { OrderWithEmail("a@-b.co"), "validation" },
        { OrderWithEmail("a@b-.co"), "validation" },
        { OrderWithEmail("a@b_c.co"), "validation" },
        { OrderWithEmail("a@b.co."), "validation" },
        { OrderWithEmail("a@b..co"), "validation" },
        { OrderWithEmail("a@[127.0.0.1]"), "validation" },
        { OrderWithEmail("a@127.0.0.1"), "validation" },
        { OrderWithEmail("a@" + new string('b', 64) + ".co"), "validation" },
        { OrderWithEmail(new string('a', 65) + "@b.co"), "validation" },
        { OrderWithEmail(new string('\u00E4', 33) + "@b.co"), "validation" },
        // One character past the 254 an address may have, with every part within its own limit.
        { OrderWithEmail(AddressOfLength(255)), "validation" },
        // Controls and line breaks at either end, which trimming would otherwise take off unseen, as a name's are refused.
        { OrderWithEmail("\\tada@b.co"), "validation" },
        { OrderWithEmail("ada@b.co\\r\\n"), "validation" },
        { OrderWithEmail("\\u0085ada@b.co"), "validation" },
        { OrderWithEmail("ada@b.co\\u2028"), "validation" },
        // Full stops past ASCII, which a mail client reads as dots ("example.com。" is "example.com." with its final
        // dot), and other characters that are neither letters nor digits in a host.
        { OrderWithEmail("ada@example.com\\u3002"), "validation" },
        { OrderWithEmail("ada@mail.example\\uFF0Ecom"), "validation" },
        { OrderWithEmail("ada@mail\\uFF61example.com"), "validation" },
        { OrderWithEmail("ada@\\u2764.example.com"), "validation" },
        // Marks that show nothing on any letter, and selectors that only pick a form: "ada" and "ada" with one inside
        // look alike, in an address and in a name.
        { OrderWithEmail("ad\\u034Fa@example.com"), "validation" },
        { OrderWithEmail("ada\\uFE0F@example.com"), "validation" },
        { OrderWithEmail("ada@exa\\u180Bmple.com"), "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u034F\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\\u17B4\",\"email\":\"a@b.co\"}}", "validation" },
        { "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"\\u1820\\u180B\\u180C\",\"email\":\"a@b.co\"}}", "validation" },
    };

    private static string OrderWithEmail(string email) =>
        "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"" + email + "\"}}";

    /// <summary>An address of <paramref name="length"/> characters (197 to 259) whose local part and labels are each within their limits.</summary>
    private static string AddressOfLength(int length) =>
        new string('a', 64) + "@" + new string('b', 63) + "." + new string('c', 63) + "." + new string('d', length - 196) + ".co";

    [Theory]
    [MemberData(nameof(MalformedOrders))]
    public async Task Malformed_orders_are_400_problems_and_change_nothing(string body, string problemType)
    {
        await EnsureEventAsync("malformed");
        var response = await Http.PostRawAsync("/api/events/malformed/orders", body);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, problemType);
        Assert.Equal(0, await Http.SoldAsync("malformed"));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3 })] // a sequence cut short
    [InlineData(new byte[] { 0xFF })] // a byte UTF-8 never uses
    [InlineData(new byte[] { 0xC0, 0xA0 })] // an overlong space
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // a lone surrogate, encoded
    public async Task A_body_that_is_not_UTF_8_is_a_400_problem_and_changes_nothing(byte[] invalid)
    {
        var eventId = "not-utf8-" + Convert.ToHexStringLower(invalid);
        await EnsureEventAsync(eventId);
        // In the buyer's name, where it would otherwise be stored and echoed.
        HttpRequestMessage Order(byte[] inName) => new(HttpMethod.Post, $"/api/events/{eventId}/orders")
        {
            Content = new ByteArrayContent([.. "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada"u8, .. inName, .. "\",\"email\":\"a@b.co\"}}"u8])
            {
                Headers = { { "Content-Type", "application/json" } },
            },
        };

        await AssertProblemAsync(await Http.SendAsync(Order(invalid)), HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal(0, await Http.SoldAsync(eventId));
        // The same body with valid UTF-8 there ("é") sells.
        Assert.Equal(HttpStatusCode.Created, (await Http.SendAsync(Order([0xC3, 0xA9]))).StatusCode);
    }

    [Theory]
    [InlineData("/api/events/empty-body/orders")]
    [InlineData("/api/events")]
    [InlineData("/api/events/empty-body/ticket-types/ga/capacity")]
    public async Task A_json_request_without_a_body_is_told_it_sent_none(string path)
    {
        await EnsureEventAsync("empty-body");
        foreach (var body in new[] { "", " \r\n" })
        {
            var problem = await AssertProblemAsync(await Http.PostRawAsync(path, body), HttpStatusCode.BadRequest, "malformed-request");
            Assert.Equal("The body is empty: send a JSON object.", problem.GetProperty("detail").GetString());
        }
        Assert.Equal(0, await Http.SoldAsync("empty-body"));
    }

    [Fact]
    public async Task Spaces_around_an_email_address_are_trimmed_and_the_order_sells()
    {
        await EnsureEventAsync("spaced");
        Assert.Equal(HttpStatusCode.Created, (await Http.PostRawAsync("/api/events/spaced/orders", OrderWithEmail("  ada@b.co "))).StatusCode);
        // The 254 characters an address may have are counted without the spaces.
        Assert.Equal(HttpStatusCode.Created, (await Http.PostRawAsync("/api/events/spaced/orders", OrderWithEmail("  " + AddressOfLength(254) + " "))).StatusCode);
        Assert.Equal(2, await Http.SoldAsync("spaced"));
    }

    [Fact]
    public async Task A_body_that_is_json_but_not_an_object_is_told_so_and_a_byte_order_mark_is_allowed()
    {
        await EnsureEventAsync("shapes");
        foreach (var body in new[] { "[]", "\"order\"", "42" })
        {
            var problem = await AssertProblemAsync(await Http.PostRawAsync("/api/events/shapes/orders", body), HttpStatusCode.BadRequest, "malformed-request");
            Assert.Equal("The body must be a JSON object.", problem.GetProperty("title").GetString());
        }

        var valid = "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}";
        var withMark = new HttpRequestMessage(HttpMethod.Post, "/api/events/shapes/orders")
        {
            Content = new ByteArrayContent([0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(valid)]) { Headers = { { "Content-Type", "application/json" } } },
        };
        Assert.Equal(HttpStatusCode.Created, (await Http.SendAsync(withMark)).StatusCode);
        Assert.Equal(1, await Http.SoldAsync("shapes"));
    }

    [Fact]
    public async Task A_field_the_service_does_not_know_is_named_in_the_refusal()
    {
        await EnsureEventAsync("unknown-field");
        var response = await Http.PostRawAsync("/api/events/unknown-field/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"},\"idempotencyKey\":\"k1\"}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("idempotencyKey", problem.GetProperty("field").GetString());
        Assert.Equal("'idempotencyKey' is not a field of this body: an idempotency key goes in the Idempotency-Key header.",
            problem.GetProperty("detail").GetString());

        // Inside a nested object, and inside an array's element, the same.
        var nested = await AssertProblemAsync(await Http.PostRawAsync("/api/events/unknown-field/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\",\"phone\":\"1\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'buyer.phone' is not a field of this body.", nested.GetProperty("detail").GetString());
        var inArray = await AssertProblemAsync(await Http.PostRawAsync("/api/events", "{\"id\":\"unknown-in-array\",\"name\":\"U\",\"ticketTypes\":[" +
            "{\"id\":\"ga\",\"name\":\"GA\",\"price\":10,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4,\"colour\":\"red\"}]}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'ticketTypes[0].colour' is not a field of this body.", inArray.GetProperty("detail").GetString());
        // Names the serializer writes in brackets, or that begin with '$', are named as sent.
        var odd = await AssertProblemAsync(await Http.PostRawAsync("/api/events/unknown-field/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\",\"odd name\":1}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'buyer['odd name']' is not a field of this body.", odd.GetProperty("detail").GetString());
        var dollar = await AssertProblemAsync(await Http.PostRawAsync("/api/events/unknown-field/orders",
            "{\"ticketTypeId\":\"ga\",\"$quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("$quantity", dollar.GetProperty("field").GetString());
        Assert.Equal("'$quantity' is not a field of this body.", dollar.GetProperty("detail").GetString());
        // A name that would not show as what it is (a line break, text that reads backwards) or runs to kilobytes is not
        // repeated: the refusal says what is wrong without carrying the client's text back.
        foreach (var name in new[] { "a\\nb", "\\u202Eecalevol", new string('x', 4000) })
        {
            var unshown = await AssertProblemAsync(await Http.PostRawAsync("/api/events/unknown-field/orders",
                "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\",\"" + name + "\":1}}"),
                HttpStatusCode.BadRequest, "malformed-request");
            Assert.Equal("$", unshown.GetProperty("field").GetString());
            Assert.Equal("The body has a field it does not take (its name is not repeated here).", unshown.GetProperty("detail").GetString());
        }
        // A known field with a value of the wrong type is still told where it could not be read.
        var wrongType = await AssertProblemAsync(await Http.PostRawAsync("/api/events/unknown-field/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":\"one\",\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.StartsWith("Could not read 'quantity'", wrongType.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_field_given_twice_is_named_in_the_refusal()
    {
        await EnsureEventAsync("twice");
        var top = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"quantity\":2,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("quantity", top.GetProperty("field").GetString());
        Assert.Equal("'quantity' is given more than once (names match without regard to case).", top.GetProperty("detail").GetString());
        // Spelt in another case, the second is the same field all the same.
        var cased = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"Quantity\":2,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.EndsWith("is given more than once (names match without regard to case).", cased.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // In a nested object and in an array's element; a name used once in each of two objects is no repeat.
        var nested = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\",\"name\":\"B\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'buyer.name' is given more than once (names match without regard to case).", nested.GetProperty("detail").GetString());
        var inArray = await AssertProblemAsync(await Http.PostRawAsync("/api/events", "{\"id\":\"twice-in-array\",\"name\":\"T\",\"ticketTypes\":[" +
            "{\"id\":\"ga\",\"name\":\"GA\",\"price\":10,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":4,\"shards\":2}]}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'ticketTypes[0].shards' is given more than once (names match without regard to case).", inArray.GetProperty("detail").GetString());
        // A wrong value in a body that also names a field twice, but later: the first fault is the one told.
        var wrongFirst = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":\"one\",\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"},\"quantity\":2}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.StartsWith("Could not read 'quantity'", wrongFirst.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // The same with the fault deeper than the repeat: an object named twice, a wrong value inside the first.
        var wrongInside = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":1,\"email\":\"a@b.co\"},\"buyer\":{}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.StartsWith("Could not read 'buyer.name'", wrongInside.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // Over several lines: the repeat's place is counted in lines as the serializer counts its own.
        var wrongAbove = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\n\"ticketTypeId\":\"ga\",\n    \"quantity\":\"one\",\n\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"},\n\"quantity\":2}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.StartsWith("Could not read 'quantity'", wrongAbove.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var twiceBelow = await AssertProblemAsync(await Http.PostRawAsync("/api/events/twice/orders",
            "{\n    \"ticketTypeId\":\"ga\",\n    \"quantity\":1,\n\"quantity\":2,\n    \"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}"),
            HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("'quantity' is given more than once (names match without regard to case).", twiceBelow.GetProperty("detail").GetString());
        Assert.Equal(404, (int)(await Http.GetAsync("/api/events/twice-in-array")).StatusCode);
        Assert.Equal(0, await Http.SoldAsync("twice"));
    }

    [Theory]
    [InlineData("Mehr\u200Cdad")]
    [InlineData("Ada \U0001F469\u200D\U0001F4BB")]
    [InlineData("Zoë Ōkubo")]
    [InlineData("小林 さくら")]
    [InlineData("\u05D3\u05D5\u05D3 \u200F(\u05D1\u05F3)")]
    [InlineData("Ada \U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F")]
    [InlineData("Ada \u2764\uFE0F\u200D\U0001F525 #\uFE0F\u20E3 \U0001F3F3\uFE0F\u200D\U0001F308 \U0001F441\uFE0F\u200D\U0001F5E8\uFE0F")]
    // Marks on their letters: Vietnamese written with combining accents, pointed Hebrew with a cantillation mark,
    // Bengali's ra, joiner, virama (a mark right after the joiner), Hindi's spacing vowel signs with a mark after one,
    // and ten marks on one letter, the most allowed.
    [InlineData("Nguye\u0302\u0303n Vie\u0323\u0302t")]
    [InlineData("\u05D1\u05BC\u05B0\u05E8\u05B5\u05D0\u05E9\u05C1\u05B4\u0596\u05D9\u05EA")]
    [InlineData("\u09B0\u200D\u09CD\u09AF\u09BE\u09AC")]
    [InlineData("\u0930\u093E\u092E \u0915\u093F\u0902\u0917")]
    [InlineData("Ada\u0301\u0300\u0302\u0303\u0304\u0306\u0307\u0308\u030A\u030B")]
    // A soft hyphen inside a word, and a direction mark at its end (the direction marks may stand anywhere).
    [InlineData("Donau\u00ADdampf\u00ADschiff")]
    [InlineData("\u05D3\u05D5\u05D3\u200F")]
    // A Mongolian letter in the form a free variation selector picks.
    [InlineData("\u1820\u180B\u1828")]
    public async Task Names_in_any_script_with_their_joiners_are_accepted(string name)
    {
        await EnsureEventAsync("names");
        var response = await Http.OrderAsync("names", 1, name: name);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(name, (await response.JsonAsync()).GetProperty("buyer").GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_names_limit_is_on_what_is_stored_so_the_spaces_around_it_do_not_count()
    {
        // The name is stored trimmed, as an email address is, and both limits are on what is stored.
        await EnsureEventAsync("padded");
        var longest = new string('x', 200);

        var padded = await Http.OrderAsync("padded", 1, name: "  " + longest + " ");
        var tooLong = await Http.OrderAsync("padded", 1, name: " " + longest + "x");

        Assert.Equal(HttpStatusCode.Created, padded.StatusCode);
        Assert.Equal(longest, (await padded.JsonAsync()).GetProperty("buyer").GetProperty("name").GetString());
        await AssertProblemAsync(tooLong, HttpStatusCode.BadRequest, "validation");
        Assert.Equal(1, await Http.SoldAsync("padded"));
    }

    [Theory]
    [InlineData("zoë@exämple.de")]
    [InlineData("ada.lovelace+tickets@mail-1.example.co.uk")]
    [InlineData("ada@3com.com")]
    [InlineData("小林@例え.jp")]
    [InlineData("\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645@example.ir")]
    // A host whose labels carry Devanagari's vowel signs, marks on their letters.
    [InlineData("ada@\u0909\u0926\u093E\u0939\u0930\u0923.\u092D\u093E\u0930\u0924")]
    public async Task Addresses_in_any_script_are_accepted_as_written(string email)
    {
        await EnsureEventAsync("addresses");
        var response = await Http.OrderAsync("addresses", 1, email: email);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(email, (await response.JsonAsync()).GetProperty("buyer").GetProperty("email").GetString());
    }

    [Fact]
    public async Task Oversized_bodies_wrong_content_types_and_bad_keys_are_refused()
    {
        await EnsureEventAsync("guarded");
        var valid = "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}";
        var huge = "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"" + new string('x', 100_000) + "\",\"email\":\"a@b.co\"}}";

        await AssertProblemAsync(await Http.PostRawAsync("/api/events/guarded/orders", huge), HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        await AssertProblemAsync(await Http.PostRawAsync("/api/events/guarded/orders", valid, "text/plain"), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        // JSON in another charset than UTF-8 is a media type the API does not take, not a malformed body.
        var utf16 = new HttpRequestMessage(HttpMethod.Post, "/api/events/guarded/orders")
        {
            Content = new StringContent(valid, System.Text.Encoding.Unicode, "application/json"),
        };
        Assert.Equal("utf-16", utf16.Content.Headers.ContentType!.CharSet);
        await AssertProblemAsync(await Http.SendAsync(utf16), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        // A compressed body would be read as its raw bytes: refused as a media type, not called broken JSON.
        var gzipped = new HttpRequestMessage(HttpMethod.Post, "/api/events/guarded/orders")
        {
            Content = new ByteArrayContent(Gzip(valid)) { Headers = { { "Content-Type", "application/json" }, { "Content-Encoding", "gzip" } } },
        };
        var named = await AssertProblemAsync(await Http.SendAsync(gzipped), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Equal("Send it without Content-Encoding (this one was 'gzip').", named.GetProperty("detail").GetString());
        var longEncoding = new HttpRequestMessage(HttpMethod.Post, "/api/events/guarded/orders")
        {
            Content = new StringContent(valid, System.Text.Encoding.UTF8, "application/json"),
        };
        Assert.True(longEncoding.Content.Headers.TryAddWithoutValidation("Content-Encoding", new string('z', 2000)));
        var unnamed = await AssertProblemAsync(await Http.SendAsync(longEncoding), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Equal("Send it without Content-Encoding.", unnamed.GetProperty("detail").GetString());
        var identity = new HttpRequestMessage(HttpMethod.Post, "/api/events/guarded/orders")
        {
            Content = new StringContent(valid, System.Text.Encoding.UTF8, "application/json") { Headers = { { "Content-Encoding", "identity" } } },
        };
        Assert.Equal(HttpStatusCode.Created, (await Http.SendAsync(identity)).StatusCode);
        // An empty Content-Encoding names no coding, as no header does.
        var empty = new HttpRequestMessage(HttpMethod.Post, "/api/events/guarded/orders")
        {
            Content = new StringContent(valid, System.Text.Encoding.UTF8, "application/json"),
        };
        Assert.True(empty.Content.Headers.TryAddWithoutValidation("Content-Encoding", ""));
        Assert.Equal(HttpStatusCode.Created, (await Http.SendAsync(empty)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PostRawAsync("/api/events/guarded/orders", valid, "application/json; charset=\"UTF-8\"")).StatusCode);
        Assert.Equal(3, await Http.SoldAsync("guarded"));
        await AssertProblemAsync(await Http.PostRawAsync("/api/events/guarded/orders", valid, key: new string('k', 101)), HttpStatusCode.BadRequest, "validation");
        await AssertProblemAsync(await Http.PostRawAsync("/api/events/guarded/orders", valid, key: "tab\there"), HttpStatusCode.BadRequest, "validation");
        Assert.Equal(3, await Http.SoldAsync("guarded"));
    }

    private static byte[] Gzip(string text)
    {
        using var compressed = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(compressed, System.IO.Compression.CompressionLevel.Fastest))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }
        return compressed.ToArray();
    }

    [Fact]
    public async Task A_body_that_cannot_be_read_is_a_400_problem_and_changes_nothing()
    {
        await EnsureEventAsync("broken-body");
        // A chunked body whose chunk size is not hexadecimal: Kestrel cannot read it, which is the client's error.
        var answer = await SendRawAsync("POST /api/events/broken-body/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Contains("application/problem+json", answer);
        Assert.Equal(0, await Http.SoldAsync("broken-body"));
    }

    [Fact]
    public async Task Two_Content_Type_headers_are_a_malformed_request_not_an_unsupported_media_type()
    {
        await EnsureEventAsync("two-types");
        const string body = "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"A\",\"email\":\"a@b.co\"}}";
        var answer = await SendRawAsync("POST /api/events/two-types/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
            $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.Contains("/problems/malformed-request", answer);
        Assert.Equal(0, await Http.SoldAsync("two-types"));
    }

    /// <summary>Sends <paramref name="request"/> as it is written (HttpClient would mend it) and reads the whole answer.</summary>
    private async Task<string> SendRawAsync(string request)
    {
        var address = Http.BaseAddress!;
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        await using var stream = socket.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
        return await new StreamReader(stream).ReadToEndAsync();
    }

    public static TheoryData<string> MalformedEvents => new()
    {
        "{}",
        "{\"id\":\"Bad Id\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1.001,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1500.5,\"currency\":\"JPY\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":100000,\"shards\":2049,\"maxPerOrder\":1},{\"id\":\"vip\",\"name\":\"VIP\",\"price\":1,\"currency\":\"EUR\",\"capacity\":100000,\"shards\":2048,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":-1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"XYZ\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":0,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10000001,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":11,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":100000,\"shards\":4097,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":101}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1},{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[null]}",
        "{\"id\":\"e1\",\"name\":\"x\\u0000y\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"G\\nA\",\"price\":1,\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
        "{\"id\":\"e1\",\"name\":\"x\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":\"1\",\"currency\":\"EUR\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}",
    };

    [Theory]
    [MemberData(nameof(MalformedEvents))]
    public async Task Malformed_events_are_400_problems_and_create_nothing(string body)
    {
        var response = await Http.PostRawAsync("/api/events", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        // One of the two stable 400 types, whichever the body's fault is: a rule broken, or a body that is not an event.
        var type = JsonDocument.Parse(text).RootElement.GetProperty("type").GetString();
        Assert.True(type is ProblemBase + "validation" or ProblemBase + "malformed-request", $"Problem type {type}: {text}");
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/api/events/e1")).StatusCode);
    }

    [Fact]
    public async Task Validation_problems_name_each_bad_field()
    {
        var response = await Http.PostRawAsync("/api/events",
            "{\"id\":\"ok\",\"name\":\"\",\"ticketTypes\":[{\"id\":\"ga\",\"name\":\"GA\",\"price\":1.234,\"currency\":\"eur\",\"capacity\":10,\"shards\":1,\"maxPerOrder\":1}]}");
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("name", out _));
        Assert.True(errors.TryGetProperty("ticketTypes[0].price", out _));
        Assert.True(errors.TryGetProperty("ticketTypes[0].currency", out _));
    }

    [Fact]
    public async Task Unknown_routes_and_methods_are_problems_with_stable_types()
    {
        await AssertProblemAsync(await Http.GetAsync("/api/nothing-here"), HttpStatusCode.NotFound, "not-found");
        var delete = await AssertProblemAsync(await Http.DeleteAsync("/api/events/any"), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal("This path does not take DELETE.", delete.GetProperty("detail").GetString());
        // Any token is a method to the server: a long one is not repeated back.
        var invented = await AssertProblemAsync(
            await Http.SendAsync(new HttpRequestMessage(new HttpMethod(new string('X', 4000)), "/api/events/any")), HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal("This path does not take this method.", invented.GetProperty("detail").GetString());
        // Whatever the client says it accepts: the API speaks problem+json only.
        foreach (var (method, path, status, type) in new[]
        {
            (HttpMethod.Get, "/api/nothing-here", HttpStatusCode.NotFound, "not-found"),
            (HttpMethod.Delete, "/api/events/any", HttpStatusCode.MethodNotAllowed, "method-not-allowed"),
        })
        {
            var request = new HttpRequestMessage(method, path);
            request.Headers.Accept.ParseAdd("text/html");
            await AssertProblemAsync(await Http.SendAsync(request), status, type);
        }
    }

    [Fact]
    public async Task Reads_answer_HEAD_with_the_status_and_headers_of_GET_and_no_body()
    {
        await EnsureEventAsync("headed");
        var order = await (await Http.OrderAsync("headed", 1, key: "head-1")).JsonAsync();
        foreach (var (path, status) in new[]
        {
            ("/api/events/headed", HttpStatusCode.OK),
            ("/api/events/headed/sales", HttpStatusCode.OK),
            ($"/api/orders/{order.GetProperty("orderId").GetString()}", HttpStatusCode.OK),
            ("/api/events/no-such-event", HttpStatusCode.NotFound),
        })
        {
            var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(status, response.StatusCode);
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
            var get = await Http.GetAsync(path);
            Assert.Equal((status, get.Content.Headers.ContentType?.MediaType), (get.StatusCode, response.Content.Headers.ContentType?.MediaType));
        }
        Assert.Equal(1, await Http.SoldAsync("headed"));
    }

    [Fact]
    public async Task An_event_with_too_many_ticket_types_is_refused_as_a_whole()
    {
        var types = string.Join(",", Enumerable.Repeat("{}", 5_000));
        var response = await Http.PostRawAsync("/api/events", "{\"id\":\"too-many\",\"name\":\"Too many\",\"ticketTypes\":[" + types + "]}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        // One error for the list, not one for each of its 5,000 empty entries.
        Assert.Equal(["ticketTypes"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/api/events/too-many")).StatusCode);
    }

    private async Task EnsureEventAsync(string id)
    {
        var response = await Http.CreateEventAsync(id, capacity: 100, shards: 2);
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.OK });
    }

    internal static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(ProblemBase + type, problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        // Whatever the client accepts, the problem names the request as the service's log does.
        Assert.True(problem.TryGetProperty("traceId", out var traceId) && !string.IsNullOrEmpty(traceId.GetString()), $"No traceId: {text}");
        return problem;
    }
}
