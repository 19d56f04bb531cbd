using System.Net;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// An operator's body still arriving when the server begins to stop is given up, as a purchase's is: Kestrel lets a
/// body trickle at 240 bytes a second, and the stop waits for the requests it has within the budget the silo then needs
/// to leave its cluster properly.
/// </summary>
public sealed class OperatorBodyStopTests
{
    [Theory]
    [InlineData("/api/events", """{"id":"late","name":"Late","ticketTypes":[{"id":"ga","name":"GA","price":1,"currency":"EUR","capacity":5,"shards":1,"maxPerOrder":2}]}""", "Nothing was created.")]
    [InlineData("/api/events/crowd/ticket-types/ga/capacity", """{"quantity":5}""", "Nothing was added.")]
    [InlineData("/api/events/crowd/ticket-types/ga/shards/0/drain", "{}", "Nothing moved.")]
    // A drain's body is optional, so it is first looked at for being empty: that look must give up on a stop too.
    [InlineData("/api/events/crowd/ticket-types/ga/shards/0/drain", "{}", "Nothing moved.", true)]
    public async Task A_body_still_arriving_when_the_server_stops_does_not_hold_the_stop_and_changes_nothing(
        string path, string body, string detail, bool holdsFirstByte = false)
    {
        using var storage = TestStorage.Sqlite();

        var answered = await StopWithABodyArriving.RunAsync(storage,
            gate => new HttpRequestMessage(HttpMethod.Post, path) { Content = new HeldBody(body, gate, holdsFirstByte) });

        Assert.True(answered is null || answered.StartsWith(detail, StringComparison.Ordinal), answered);
        await using var again = await ApiHost.StartAsync(storage);
        var type = (await (await again.Client.GetAsync("/api/events/crowd/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal(20, type.GetProperty("capacity").GetInt64());
        Assert.False(type.GetProperty("shards")[0].GetProperty("retired").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await again.Client.GetAsync("/api/events/late")).StatusCode);
    }
}
