using System.Net;
using System.Text.Json;
using OrleansTickets.Api;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary><c>GET /api/events/{id}/orders</c>: the back office's export of an event's orders, over real HTTP.</summary>
public sealed class ExportApiTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private HttpClient Http => fixture.Host.Client;

    [Fact]
    public async Task A_shard_database_that_cannot_be_made_is_503_with_retry_after_not_an_internal_error()
    {
        // The shard files' folder cannot be made (a file stands where it belongs): not a database error, but the same
        // answer a buyer reading one order gets, "try again".
        using var storage = TestStorage.Sqlite();
        await File.WriteAllTextAsync(Path.Combine(storage.Folder!, "shards"), "not a folder");
        await using var host = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unmade", capacity: 10, shards: 2)).StatusCode);

        var response = await host.Client.GetAsync("/api/events/unmade/orders");

        await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
    }

    [Fact]
    public async Task The_pages_hold_every_order_the_buyers_were_given_with_its_tickets_and_buyer()
    {
        Assert.Equal(HttpStatusCode.Created, (await Http.CreateEventAsync("handover", capacity: 20, shards: 3)).StatusCode);
        var given = new Dictionary<string, JsonElement>();
        for (var i = 0; i < 8; i++)
        {
            var response = await Http.OrderAsync("handover", 1 + i % 3, key: i % 2 == 0 ? $"hand-{i}" : null, name: $"Buyer {i}");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var order = await response.JsonAsync();
            given[order.GetProperty("orderId").GetString()!] = order;
        }

        var exported = new List<JsonElement>();
        string? next = null;
        do
        {
            var page = await Http.GetAsync("/api/events/handover/orders?limit=3" + (next is null ? "" : "&after=" + Uri.EscapeDataString(next)));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await page.JsonAsync();
            Assert.Equal("handover", body.GetProperty("eventId").GetString());
            exported.AddRange(body.GetProperty("orders").EnumerateArray());
            next = body.GetProperty("next").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next").GetString();
            // The count and the cursor to resume from come with the last page only: the count is the walk's own check
            // that it passed over nothing.
            if (next is not null)
            {
                Assert.Equal(JsonValueKind.Null, body.GetProperty("ticketsSold").ValueKind);
                Assert.Equal(JsonValueKind.Null, body.GetProperty("resume").ValueKind);
            }
            else
            {
                Assert.Equal(given.Values.Sum(o => o.GetProperty("quantity").GetInt64()), body.GetProperty("ticketsSold").GetInt64());
                Assert.Equal(JsonValueKind.String, body.GetProperty("resume").ValueKind);
            }
        }
        while (next is not null);

        Assert.Equal(given.Keys.Order(), exported.Select(o => o.GetProperty("orderId").GetString()!).Order());
        foreach (var order in exported)
        {
            var original = given[order.GetProperty("orderId").GetString()!];
            Assert.Equal(Codes(original), Codes(order));
            Assert.Equal(original.GetProperty("buyer").GetRawText(), order.GetProperty("buyer").GetRawText());
            Assert.Equal(original.GetProperty("total").GetDecimal(), order.GetProperty("total").GetDecimal());
            Assert.Equal(original.GetProperty("createdAt").GetDateTimeOffset(), order.GetProperty("createdAt").GetDateTimeOffset());
        }
    }

    [Theory]
    [InlineData("/api/events/handover-bad/orders?after=x", "after")]
    [InlineData("/api/events/handover-bad/orders?after=1.", "after")]
    [InlineData("/api/events/handover-bad/orders?after=-1.ABC", "after")]
    [InlineData("/api/events/handover-bad/orders?after=1.AB%2FC", "after")]
    [InlineData("/api/events/handover-bad/orders?limit=0", "limit")]
    [InlineData("/api/events/handover-bad/orders?limit=1001", "limit")]
    [InlineData("/api/events/handover-bad/orders?limit=ten", "limit")]
    [InlineData("/api/events/handover-bad/orders?limit=%2B5", "limit")]
    [InlineData("/api/events/handover-bad/orders?limit=0500", "limit")]
    [InlineData("/api/events/handover-bad/orders?limit=5&limit=5", "limit")]
    [InlineData("/api/events/handover-bad/orders?after=x&after=y", "after")]
    // Misspelt, a parameter was ignored, and a back office following it got the first page for ever.
    [InlineData("/api/events/handover-bad/orders?cursor=0.x", "cursor")]
    [InlineData("/api/events/handover-bad/orders?limit=5&pageSize=10", "pageSize")]
    public async Task A_malformed_cursor_or_page_size_is_400_naming_the_field(string path, string field)
    {
        await Http.CreateEventAsync("handover-bad", capacity: 10, shards: 1);
        var problem = await ApiContractTests.AssertProblemAsync(await Http.GetAsync(path), HttpStatusCode.BadRequest, "validation");
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task A_refusal_of_many_unknown_parameters_names_the_first_ten_only()
    {
        await Http.CreateEventAsync("handover-many", capacity: 10, shards: 1);
        // About 5 KB of names, within any request line Kestrel takes.
        var names = Enumerable.Range(0, 1000).Select(i => "p" + i).ToList();

        var response = await Http.GetAsync("/api/events/handover-many/orders?limit=5&" + string.Join("&", names));

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        var named = problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).ToList();
        Assert.Equal(names.Take(10), named);
    }

    [Fact]
    public async Task An_unknown_parameter_whose_name_is_not_plain_is_refused_without_repeating_it()
    {
        await Http.CreateEventAsync("handover-odd", capacity: 10, shards: 1);

        var response = await Http.GetAsync("/api/events/handover-odd/orders?" + Uri.EscapeDataString("a\u202Eb\nc") + "=1&" + new string('p', 2000) + "=2");

        var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation");
        Assert.Equal(["query"], problem.GetProperty("errors").EnumerateObject().Select(e => e.Name));
    }

    [Fact]
    public async Task A_cursor_no_page_of_this_event_gives_is_400_not_an_empty_last_page()
    {
        // From another event's export, or edited (a mark raised, a database left out): read as given, it would pass over
        // orders, and its walk could end looking whole. Cursors are sealed, so every text no page wrote is refused.
        Assert.Equal(HttpStatusCode.Created, (await Http.CreateEventAsync("handover-a", capacity: 10, shards: 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.CreateEventAsync("handover-b", capacity: 10, shards: 2)).StatusCode);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("handover-a", 1)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await Http.OrderAsync("handover-b", 1)).StatusCode);
        }
        var first = await (await Http.GetAsync("/api/events/handover-a/orders?limit=1")).JsonAsync();
        var next = first.GetProperty("next").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/api/events/handover-a/orders?after=" + Uri.EscapeDataString(next))).StatusCode);
        var middle = next.Length / 2;
        var otherCharacter = next[middle] == 'A' ? 'B' : 'A';

        foreach (var path in new[]
        {
            "/api/events/handover-b/orders?after=" + Uri.EscapeDataString(next),
            "/api/events/handover-a/orders?after=" + Uri.EscapeDataString(next[..middle] + otherCharacter + next[(middle + 1)..]),
            "/api/events/handover-a/orders?after=" + Uri.EscapeDataString(next[..^1]),
            // The same bytes in a spelling no page gives: padded.
            "/api/events/handover-a/orders?after=" + Uri.EscapeDataString(next + "=="),
            // The cursor of earlier builds (database, then the order id after which the page started).
            "/api/events/handover-a/orders?after=" + Uri.EscapeDataString("0." + first.GetProperty("orders")[0].GetProperty("orderId").GetString()),
        })
        {
            var problem = await ApiContractTests.AssertProblemAsync(await Http.GetAsync(path), HttpStatusCode.BadRequest, "validation");
            Assert.True(problem.GetProperty("errors").TryGetProperty("after", out _), problem.GetRawText());
        }
    }

    [Fact]
    public async Task A_cursor_longer_than_kestrels_default_request_line_reaches_the_api()
    {
        // A cursor for more than about 850 databases on several servers is over 8 KB, Kestrel's default request line,
        // which answered 414 before the API could read it. This one is no page's, so the API's own answer is 400.
        await Http.CreateEventAsync("handover-long", capacity: 10, shards: 1);
        const string path = "/api/events/handover-long/orders?after=";

        var problem = await ApiContractTests.AssertProblemAsync(
            await Http.GetAsync(path + new string('A', 20_000)), HttpStatusCode.BadRequest, "validation");
        Assert.True(problem.GetProperty("errors").TryGetProperty("after", out _), problem.GetRawText());

        // The line still has a limit.
        var tooLong = await Http.GetAsync(path + new string('A', TicketingApiExtensions.MaxRequestLineBytes));
        Assert.Equal(HttpStatusCode.RequestUriTooLong, tooLong.StatusCode);
    }

    [Theory]
    [InlineData("/api/events/no-such-event/orders")]
    [InlineData("/api/events/Not_A_Slug/orders")]
    public async Task An_unknown_event_is_404(string path) =>
        await ApiContractTests.AssertProblemAsync(await Http.GetAsync(path), HttpStatusCode.NotFound, "event-not-found");

    private static IEnumerable<string> Codes(JsonElement order) =>
        order.GetProperty("tickets").EnumerateArray().Select(t => t.GetProperty("code").GetString()!);
}
