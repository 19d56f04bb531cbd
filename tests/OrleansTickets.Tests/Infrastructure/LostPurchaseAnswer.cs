using OrleansTickets.Inventory;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Plays a shard's silo declared dead after the shard ran a purchase: the first shard purchase runs (and may sell),
/// then its caller gets what Orleans gives a call in flight to a silo that died before answering.
/// </summary>
public sealed class LostPurchaseAnswer : IIncomingGrainCallFilter
{
    private int _lost;

    /// <summary>Whether an answer was lost yet.</summary>
    public bool Lost => Volatile.Read(ref _lost) == 1;

    public async Task Invoke(IIncomingGrainCallContext call)
    {
        await call.Invoke();
        if (call.InterfaceMethod.DeclaringType == typeof(IInventoryShardGrain)
            && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase)
            && Interlocked.Exchange(ref _lost, 1) == 0)
        {
            throw new SiloUnavailableException("The target silo became unavailable (played by a test).");
        }
    }
}
