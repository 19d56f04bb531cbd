namespace OrleansTickets.Export;

/// <summary>
/// Hands an event's orders to the back office, a page at a time: every committed order once, with its buyer and its
/// tickets, during the sale as after it. Keyed by the event id.
/// </summary>
public interface IOrderExportGrain : IGrainWithStringKey
{
    /// <summary>The most orders one page may ask for.</summary>
    const int MaxPageSize = 1000;

    /// <summary>The most tickets one page holds, unless its one order holds more.</summary>
    const int MaxPageTickets = 10_000;

    /// <summary>
    /// Up to <paramref name="limit"/> orders (1 to <see cref="MaxPageSize"/>) after the cursor <paramref name="after"/>
    /// (an earlier page's <see cref="OrderPage.Next"/> or <see cref="OrderPage.Resume"/>; null: from the start), with at most <see cref="MaxPageTickets"/> tickets between them, or null when the event does not exist.
    /// A page may hold fewer orders than asked for and still have a next one. Throws
    /// <see cref="Inventory.ShardUnavailableException"/> while a shard database cannot be read, and
    /// <see cref="Inventory.ShardBusyException"/> while other pages keep its lookup connections busy. Cancelling
    /// <paramref name="cancellationToken"/> (a back office that hung up) stops the page's database reads where they are
    /// on PostgreSQL; on SQLite, whose reads run synchronously, only while the page waits for a lookup connection.
    /// </summary>
    Task<OrderPage?> ReadPage(string? after, int limit, CancellationToken cancellationToken = default);
}
