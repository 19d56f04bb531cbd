using OrleansTickets.Inventory;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Plays an answer lost after the purchase ran: the first call to <c>Purchase</c> of the chosen grain interface runs
/// (and may sell), then its caller gets the exception Orleans gives such a call instead of the answer. By default a
/// shard's answer is lost to its silo being declared dead before it came back.
/// </summary>
public sealed class LostPurchaseAnswer(Func<Exception>? loss = null, Type? grainInterface = null) : IIncomingGrainCallFilter
{
    private readonly Func<Exception> _loss = loss ?? (() => new SiloUnavailableException("The target silo became unavailable (played by a test)."));
    private readonly Type _grainInterface = grainInterface ?? typeof(IInventoryShardGrain);
    private int _lost;

    /// <summary>Whether an answer was lost yet.</summary>
    public bool Lost => Volatile.Read(ref _lost) == 1;

    public async Task Invoke(IIncomingGrainCallContext call)
    {
        await call.Invoke();
        if (call.InterfaceMethod.DeclaringType == _grainInterface
            && call.InterfaceMethod.Name == nameof(IInventoryShardGrain.Purchase)
            && Interlocked.Exchange(ref _lost, 1) == 0)
        {
            throw _loss();
        }
    }
}
