using OrleansTickets.Orders;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Checks shared by the sale tests: every ticket of every acknowledged order is distinct.</summary>
public static class OrderAssertions
{
    public static void AllSerialsAndCodesUnique(IEnumerable<OrderDetails> orders)
    {
        var tickets = orders.SelectMany(o => o.Tickets.Select(t => (o.TicketTypeId, t.Serial, t.Code))).ToList();
        Assert.Equal(tickets.Count, tickets.Select(t => (t.TicketTypeId, t.Serial)).Distinct().Count());
        Assert.Equal(tickets.Count, tickets.Select(t => t.Code).Distinct().Count());
    }
}
