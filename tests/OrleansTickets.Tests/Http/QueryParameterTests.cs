using System.Net;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// The endpoints that change something take their options in the body alone: a query parameter is refused before
/// anything changes, where it used to be passed over (a drain with <c>?dryRun=true</c> drained the shard for good).
/// </summary>
public sealed class QueryParameterTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private HttpClient Http => fixture.Host.Client;

    [Theory]
    [InlineData("order", "?dryRun=true", "query.dryRun")]
    [InlineData("event", "?replace=true", "query.replace")]
    [InlineData("capacity", "?shard=1", "query.shard")]
    [InlineData("drain", "?dryRun=true", "query.dryRun")]
    [InlineData("drain", "?=x", "query")]
    // Not repeated back: a line break and a right-to-left override in the name.
    [InlineData("order", "?a%0Ab%E2%80%AE=1", "query")]
    public async Task A_query_parameter_on_a_request_that_changes_something_is_400_and_changes_nothing(string endpoint, string query, string named)
    {
        var eventId = $"query-{endpoint}-{Guid.NewGuid():N}"[..40];
        var made = eventId[..30] + "-made";
        Assert.Equal(HttpStatusCode.Created, (await Http.CreateEventAsync(eventId, capacity: 10, shards: 2)).StatusCode);
        var types = $"/api/events/{eventId}/ticket-types/ga";
        var (path, body) = endpoint switch
        {
            "order" => ($"/api/events/{eventId}/orders", """{"ticketTypeId":"ga","quantity":1,"buyer":{"name":"Ada","email":"ada@example.com"}}"""),
            "event" => ("/api/events", $$"""{"id":"{{made}}","name":"Made","ticketTypes":[{"id":"ga","name":"GA","price":1,"currency":"EUR","capacity":1,"shards":1,"maxPerOrder":1}]}"""),
            "capacity" => ($"{types}/capacity", """{"quantity":5}"""),
            _ => ($"{types}/shards/0/drain", "{}"),
        };

        var refused = await ApiContractTests.AssertProblemAsync(await Http.PostRawAsync(path + query, body), HttpStatusCode.BadRequest, "validation");

        Assert.True(refused.GetProperty("errors").TryGetProperty(named, out _), $"The problem does not name '{named}': {refused}");
        var type = (await (await Http.GetAsync($"/api/events/{eventId}/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((10L, 0L), (type.GetProperty("capacity").GetInt64(), type.GetProperty("sold").GetInt64()));
        // Both shards still hold their five: the drain moved nothing.
        Assert.All(type.GetProperty("shards").EnumerateArray(), shard => Assert.Equal(5L, shard.GetProperty("capacity").GetInt64()));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"/api/events/{made}")).StatusCode);
        // Without the query, the same request is taken.
        Assert.True((await Http.PostRawAsync(path, body)).IsSuccessStatusCode);
    }
}
