using OrleansTickets.Orders;
using OrleansTickets.Sales;

namespace OrleansTickets.Inventory;

/// <summary>
/// Owns one block of serials of one ticket type and sells from it, persisting every order in its shard database.
/// Keyed by <c>event/type/index</c> (see <see cref="Events.ShardAddress"/>).
/// </summary>
public interface IInventoryShardGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sells tickets from this shard. When the request carries an idempotency key this shard may be the key's
    /// home, which records the key and may forward the order to one of the candidates.
    /// </summary>
    Task<PurchaseResult> Purchase(ShardPurchase purchase);

    /// <summary>Reads a committed order held by this shard, or null.</summary>
    Task<OrderDetails?> GetOrder(string orderId);

    /// <summary>This shard's exact committed sales and status.</summary>
    Task<ShardSales> GetSales();
}
