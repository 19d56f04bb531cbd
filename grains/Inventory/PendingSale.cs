using OrleansTickets.Orders;
using OrleansTickets.Storage;

namespace OrleansTickets.Inventory;

/// <summary>
/// A sale or a key reservation waiting for the shard's next group commit. <see cref="Request"/> is null for a pure
/// reservation (a home shard recording where it forwards a keyed order).
/// </summary>
internal sealed class PendingSale(PurchaseRequest? request, string orderId, IdempotencyRecord? key)
{
    public PurchaseRequest? Request { get; } = request;

    public string OrderId { get; } = orderId;

    public IdempotencyRecord? Key { get; } = key;

    public int Quantity => Request?.Quantity ?? 0;

    public TaskCompletionSource<PurchaseResult> Completion { get; } = new();
}
