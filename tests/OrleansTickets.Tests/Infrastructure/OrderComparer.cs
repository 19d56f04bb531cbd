using OrleansTickets.Orders;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Compares orders by value, including their ticket lists (records compare arrays by reference).</summary>
public sealed class OrderComparer : IEqualityComparer<OrderDetails?>
{
    public static readonly OrderComparer Instance = new();

    public bool Equals(OrderDetails? x, OrderDetails? y) =>
        x is null || y is null
            ? x is null && y is null
            : x with { Tickets = [] } == y with { Tickets = [] } && x.Tickets.SequenceEqual(y.Tickets);

    public int GetHashCode(OrderDetails? obj) => obj?.OrderId.GetHashCode(StringComparison.Ordinal) ?? 0;
}
