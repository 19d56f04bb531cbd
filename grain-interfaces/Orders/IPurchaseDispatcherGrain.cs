namespace OrleansTickets.Orders;

/// <summary>
/// Spreads purchases of one ticket type over its shards. A stateless worker keyed by <c>event/type</c>:
/// each silo runs local copies, so it is never a single hot spot.
/// </summary>
public interface IPurchaseDispatcherGrain : IGrainWithStringKey
{
    /// <summary>Buys tickets, retrying other shards when one is sold out or unavailable.</summary>
    Task<PurchaseResult> Purchase(PurchaseRequest request);
}
