using System.Text;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// A buyer reads both of the service's definite 409 refusals as "not this many": sold out, and tickets scattered over
/// drained shards. Anything else in a 409 leaves the outcome unknown.
/// </summary>
public sealed class ConflictAnswerTests
{
    [Theory]
    [InlineData("""{"type":"https://orleanstickets.dev/problems/sold-out","remaining":2}""", PostResult.SoldOut, 2)]
    [InlineData("""{"type":"https://orleanstickets.dev/problems/sold-out","remaining":0}""", PostResult.SoldOut, 0)]
    // Enough tickets, but no drained shard holds more than one order of 3: the buyer asks for 3 next.
    [InlineData("""{"type":"https://orleanstickets.dev/problems/tickets-scattered","largestOrder":3}""", PostResult.SoldOut, 3)]
    [InlineData("""{"type":"https://orleanstickets.dev/problems/sold-out"}""", PostResult.Failed, 0)]
    [InlineData("""{"type":"https://orleanstickets.dev/problems/tickets-scattered","remaining":3}""", PostResult.Failed, 0)]
    [InlineData("""{"type":"https://orleanstickets.dev/problems/event-exists"}""", PostResult.Failed, 0)]
    public void A_conflict_is_a_definite_refusal_only_when_it_says_how_many_one_order_may_still_take(string body, PostResult result, long left)
    {
        var outcome = TicketingApiClient.ReadConflict(409, Encoding.UTF8.GetBytes(body), TimeSpan.FromMilliseconds(3));

        Assert.Equal((result, left), (outcome.Result, outcome.Remaining));
    }
}
