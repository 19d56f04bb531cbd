using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>
/// What one read of a shard database gave an export page: its orders, whether the database may hold more after them
/// (<paramref name="Full"/>), and where the next read there starts (<paramref name="Reached"/>).
/// </summary>
public sealed record SavedOrders(IReadOnlyList<OrderDetails> Orders, bool Full, SavePosition Reached);
