using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The load generator's shared view of which ticket types buyers still want.</summary>
public sealed class TicketTypeDemandTests
{
    private static readonly TicketTypeInfo[] Types =
    [
        new("ga", "General admission", 100, 4, 100),
        new("vip", "VIP", 10, 4, 10),
        new("camping", "Camping", 20, 4, 20),
    ];

    [Fact]
    public void Sold_out_types_are_no_longer_picked_and_their_first_sold_out_answer_is_timed()
    {
        var demand = TicketTypeDemand.Create(Types, weights: null);
        var startedAt = Stopwatch.GetTimestamp();

        demand.MarkSoldOut("vip");
        Thread.Sleep(20);
        demand.MarkSoldOut("ga");
        var times = demand.SoldOutTimes(startedAt);
        Thread.Sleep(20);
        demand.MarkSoldOut("vip");

        Assert.Equal(["vip", "ga"], times.Select(t => t.TicketTypeId));
        Assert.True(times[1].Seconds - times[0].Seconds >= 0.015, $"{times[0].Seconds} then {times[1].Seconds}");
        // A later answer for a type already sold out does not move its time.
        Assert.Equal(times, demand.SoldOutTimes(startedAt));
        var random = new Random(7);
        for (var i = 0; i < 50; i++)
        {
            Assert.True(demand.TryPick(random, out var picked));
            Assert.Equal("camping", picked.Id);
        }
    }
}
