namespace OrleansTickets.Export;

/// <summary>
/// Hands an event's orders to the back office after the sale, a page at a time: every committed order once, with its
/// buyer and its tickets. Keyed by the event id.
/// </summary>
public interface IOrderExportGrain : IGrainWithStringKey
{
    /// <summary>The most orders one page may ask for.</summary>
    const int MaxPageSize = 1000;

    /// <summary>
    /// Up to <paramref name="limit"/> orders (1 to <see cref="MaxPageSize"/>) after <paramref name="after"/> (null: from
    /// the start), or null when the event does not exist. Throws <see cref="Inventory.ShardUnavailableException"/> while a
    /// shard database cannot be read.
    /// </summary>
    Task<OrderPage?> ReadPage(ExportCursor? after, int limit);
}
