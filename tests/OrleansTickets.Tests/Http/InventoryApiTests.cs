using System.Net;
using System.Net.Http.Json;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>The operators' inventory endpoints: adding capacity and draining a shard, over real HTTP.</summary>
public sealed class InventoryApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private HttpClient Http => fixture.Host.Client;

    [Fact]
    public async Task Adding_capacity_returns_201_with_the_new_serials_and_they_go_on_sale()
    {
        await Http.CreateEventAsync("more", capacity: 4, shards: 2);
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("more", 4)).StatusCode);

        var response = await Http.PostAsJsonAsync("/api/events/more/ticket-types/ga/capacity", new { quantity = 3, shard = 1 });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(("added", 1, 5L, 7L, 3L), (body.GetProperty("status").GetString(), body.GetProperty("shard").GetInt32(),
            body.GetProperty("firstSerial").GetInt64(), body.GetProperty("lastSerial").GetInt64(), body.GetProperty("quantity").GetInt64()));
        var type = (await (await Http.GetAsync("/api/events/more/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((7L, 3L), (type.GetProperty("capacity").GetInt64(), type.GetProperty("remaining").GetInt64()));
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("more", 3)).StatusCode);
        Assert.Equal(7, await Http.SoldAsync("more"));
    }

    [Theory]
    [InlineData("{}", "validation", "quantity")]
    [InlineData("{\"quantity\":0}", "validation", "quantity")]
    [InlineData("{\"quantity\":-5}", "validation", "quantity")]
    [InlineData("{\"quantity\":\"5\"}", "malformed-request", "quantity")]
    [InlineData("{\"quantity\":10000001}", "validation", "quantity")]
    [InlineData("{\"quantity\":5,\"shard\":-1}", "validation", "shard")]
    [InlineData("{\"quantity\":5,\"shard\":2}", "validation", "shard")]
    [InlineData("{\"quantity\":5,\"shard\":1.5}", "malformed-request", "shard")]
    [InlineData("[1]", "malformed-request", null)]
    [InlineData("{\"quantity\":5", "malformed-request", null)]
    // A misspelt field: ignored, the tickets went to whichever shard came next, for good.
    [InlineData("{\"quantity\":5,\"shardIndex\":1}", "malformed-request", "shardIndex")]
    public async Task Bad_capacity_requests_are_400_and_change_nothing(string body, string problem, string? field)
    {
        await Http.CreateEventAsync("bad-capacity", capacity: 10, shards: 2);
        var refused = await ApiContractTests.AssertProblemAsync(
            await Http.PostRawAsync("/api/events/bad-capacity/ticket-types/ga/capacity", body), HttpStatusCode.BadRequest, problem);
        // The answer names what to mend: a validation problem lists the field among its errors, a malformed body names it.
        if (field is not null)
        {
            Assert.True(problem == "validation" ? refused.GetProperty("errors").TryGetProperty(field, out _) : refused.GetProperty("field").GetString() == field,
                $"The problem does not name '{field}': {refused}");
        }
        var type = (await (await Http.GetAsync("/api/events/bad-capacity/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal(10L, type.GetProperty("capacity").GetInt64());
    }

    [Fact]
    public async Task Capacity_for_an_unknown_event_or_type_is_404_and_a_wrong_media_type_is_415()
    {
        await Http.CreateEventAsync("cap-known", capacity: 10, shards: 2);
        await ApiContractTests.AssertProblemAsync(
            await Http.PostAsJsonAsync("/api/events/nope/ticket-types/ga/capacity", new { quantity = 1 }), HttpStatusCode.NotFound, "event-not-found");
        await ApiContractTests.AssertProblemAsync(
            await Http.PostAsJsonAsync("/api/events/cap-known/ticket-types/vip/capacity", new { quantity = 1 }), HttpStatusCode.NotFound, "ticket-type-not-found");
        await ApiContractTests.AssertProblemAsync(
            await Http.PostRawAsync("/api/events/cap-known/ticket-types/ga/capacity", "quantity=1", "text/plain"),
            HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task A_capacity_addition_retried_with_its_key_adds_once_and_the_key_with_another_addition_is_422()
    {
        await Http.CreateEventAsync("keyed-cap", capacity: 10, shards: 2);

        var created = await AddCapacityAsync("keyed-cap", "{\"quantity\":3}", "grow-1");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var first = await created.JsonAsync();
        var retry = await AddCapacityAsync("keyed-cap", "{\"quantity\":3}", "grow-1");

        // The grant the key made, as a replay: 200, not a second 201, pointing where the 201 pointed.
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal("/api/events/keyed-cap/sales", created.Headers.Location?.OriginalString);
        Assert.Equal(created.Headers.Location, retry.Headers.Location);
        var again = await retry.JsonAsync();
        Assert.Equal((first.GetProperty("grantId").GetString(), 11L), (again.GetProperty("grantId").GetString(), again.GetProperty("firstSerial").GetInt64()));
        Assert.Equal(13L, await CapacityAsync("keyed-cap"));

        await ApiContractTests.AssertProblemAsync(
            await AddCapacityAsync("keyed-cap", "{\"quantity\":4}", "grow-1"), HttpStatusCode.UnprocessableEntity, "idempotency-key-conflict");
        Assert.Equal(13L, await CapacityAsync("keyed-cap"));

        var next = await (await AddCapacityAsync("keyed-cap", "{\"quantity\":3}", "grow-2")).JsonAsync();
        Assert.Equal(14L, next.GetProperty("firstSerial").GetInt64());
        Assert.Equal(16L, await CapacityAsync("keyed-cap"));
    }

    [Fact]
    public async Task A_bad_key_on_a_capacity_addition_is_400_and_adds_nothing()
    {
        await Http.CreateEventAsync("bad-cap-key", capacity: 10, shards: 2);

        var tooLong = await AddCapacityAsync("bad-cap-key", "{\"quantity\":3}", new string('k', 101));
        var withTab = await AddCapacityAsync("bad-cap-key", "{\"quantity\":3}", "bad\tkey");

        foreach (var refused in new[] { tooLong, withTab })
        {
            var problem = await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.BadRequest, "validation");
            Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _), $"The problem does not name the key: {problem}");
        }
        Assert.Equal(10L, await CapacityAsync("bad-cap-key"));
    }

    [Fact]
    public async Task Capacity_for_a_type_whose_every_shard_is_drained_is_409_and_adds_nothing()
    {
        await Http.CreateEventAsync("all-drained", capacity: 4, shards: 2);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync("/api/events/all-drained/ticket-types/ga/shards/0/drain", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostAsync("/api/events/all-drained/ticket-types/ga/shards/1/drain", null)).StatusCode);

        await ApiContractTests.AssertProblemAsync(
            await AddCapacityAsync("all-drained", "{\"quantity\":3}", "late-tickets"), HttpStatusCode.Conflict, "no-shard-takes-tickets");
        Assert.Equal(4L, await CapacityAsync("all-drained"));
        // Found drained once, the type refuses later additions before storing anything, so their keys stay free: the
        // same key with another body is refused as the addition it is, not as a key conflict.
        await ApiContractTests.AssertProblemAsync(
            await AddCapacityAsync("all-drained", "{\"quantity\":2}", "later-tickets"), HttpStatusCode.Conflict, "no-shard-takes-tickets");
        await ApiContractTests.AssertProblemAsync(
            await AddCapacityAsync("all-drained", "{\"quantity\":1}", "later-tickets"), HttpStatusCode.Conflict, "no-shard-takes-tickets");
        Assert.Equal(4L, await CapacityAsync("all-drained"));
    }

    private Task<HttpResponseMessage> AddCapacityAsync(string eventId, string body, string key) =>
        Http.PostRawAsync($"/api/events/{eventId}/ticket-types/ga/capacity", body, key: key);

    private async Task<long> CapacityAsync(string eventId) =>
        (await (await Http.GetAsync($"/api/events/{eventId}/sales")).JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("capacity").GetInt64();

    [Fact]
    public async Task Draining_a_shard_moves_its_unsold_tickets_to_the_others()
    {
        await Http.CreateEventAsync("drain-me", capacity: 9, shards: 3);

        var response = await Http.PostAsync("/api/events/drain-me/ticket-types/ga/shards/1/drain", content: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal((3L, 0L), (body.GetProperty("moved").GetInt64(), body.GetProperty("left").GetInt64()));
        var shards = (await (await Http.GetAsync("/api/events/drain-me/sales")).JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("shards");
        Assert.Equal(0L, shards[1].GetProperty("capacity").GetInt64());
        Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("drain-me", 9)).StatusCode);

        await ApiContractTests.AssertProblemAsync(
            await Http.PostAsync("/api/events/drain-me/ticket-types/ga/shards/3/drain", null), HttpStatusCode.NotFound, "shard-not-found");
        // Not a shard index at all: the same answer, not "nothing is served at this path".
        foreach (var index in new[] { "-1", "abc", "99999999999", "1.0", "00", "01" })
        {
            await ApiContractTests.AssertProblemAsync(
                await Http.PostAsync($"/api/events/drain-me/ticket-types/ga/shards/{index}/drain", null), HttpStatusCode.NotFound, "shard-not-found");
        }
        await ApiContractTests.AssertProblemAsync(
            await Http.PostAsync("/api/events/nope/ticket-types/ga/shards/0/drain", null), HttpStatusCode.NotFound, "event-not-found");
    }

    [Fact]
    public async Task A_drain_with_a_body_other_than_an_empty_object_is_refused_and_drains_nothing()
    {
        await Http.CreateEventAsync("drain-body", capacity: 6, shards: 3);
        const string path = "/api/events/drain-body/ticket-types/ga/shards/0/drain";

        // A drain has no options: one named in the body would be silently ignored, and the tickets moved anyway.
        var unknown = await ApiContractTests.AssertProblemAsync(await Http.PostRawAsync(path, """{"to": 1}"""), HttpStatusCode.BadRequest, "malformed-request");
        Assert.Equal("to", unknown.GetProperty("field").GetString());
        Assert.Contains("not a field", unknown.GetProperty("detail").GetString());
        foreach (var body in new[] { "[]", "null", "{", "3" })
        {
            await ApiContractTests.AssertProblemAsync(await Http.PostRawAsync(path, body), HttpStatusCode.BadRequest, "malformed-request");
        }
        await ApiContractTests.AssertProblemAsync(await Http.SendAsync(Chunked(path, """{"to": 1}""", "application/json")), HttpStatusCode.BadRequest, "malformed-request");
        await ApiContractTests.AssertProblemAsync(await Http.PostRawAsync(path, "now", contentType: "text/plain"),
            HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        var shard = (await (await Http.GetAsync("/api/events/drain-body/sales")).JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("shards")[0];
        Assert.Equal((false, 2L), (shard.GetProperty("retired").GetBoolean(), shard.GetProperty("capacity").GetInt64()));

        // An empty object names no option at all: it drains, as no body does, even one sent in chunks that end at once.
        var drained = await Http.PostRawAsync(path, " { } ");
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        Assert.Equal(2L, (await drained.JsonAsync()).GetProperty("moved").GetInt64());
        var chunked = await Http.SendAsync(Chunked("/api/events/drain-body/ticket-types/ga/shards/1/drain", "", contentType: null));
        Assert.Equal(HttpStatusCode.OK, chunked.StatusCode);
        Assert.True((await chunked.JsonAsync()).GetProperty("moved").GetInt64() >= 2);
    }

    private static HttpRequestMessage Chunked(string path, string body, string? contentType)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body) };
        request.Content.Headers.ContentType = contentType is null ? null : new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        request.Headers.TransferEncodingChunked = true;
        return request;
    }

    [Fact]
    public async Task A_drain_with_a_malformed_Idempotency_Key_is_400_and_drains_nothing()
    {
        await Http.CreateEventAsync("drain-key", capacity: 4, shards: 2);

        foreach (var bad in new[] { new string('k', 101), "bad\tkey" })
        {
            var refused = await ApiContractTests.AssertProblemAsync(
                await Http.PostRawAsync("/api/events/drain-key/ticket-types/ga/shards/0/drain", "", key: bad), HttpStatusCode.BadRequest, "validation");
            Assert.True(refused.GetProperty("errors").TryGetProperty("Idempotency-Key", out _), refused.ToString());
        }

        var shard = (await (await Http.GetAsync("/api/events/drain-key/sales")).JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("shards")[0];
        Assert.Equal((false, 2L), (shard.GetProperty("retired").GetBoolean(), shard.GetProperty("capacity").GetInt64()));
        // A well-formed key is allowed, and changes nothing about the drain.
        Assert.Equal(HttpStatusCode.OK, (await Http.PostRawAsync("/api/events/drain-key/ticket-types/ga/shards/0/drain", "", key: "drain-0")).StatusCode);
    }
}
