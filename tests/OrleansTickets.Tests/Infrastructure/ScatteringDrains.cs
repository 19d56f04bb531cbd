using OrleansTickets.Events;
using OrleansTickets.Inventory;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Leaves every shard of a type drained with its own tickets: a grain call filter for the silo, and the drains to run
/// through it.
/// </summary>
/// <remarks>
/// A drain hands its tickets only to a shard that answers a sales report (and is not drained). While shard i is
/// drained, this filter fails the reports of the shards after it, and those before it are drained already: so each
/// keeps what it held, and none can ever pool them.
/// </remarks>
public sealed class ScatteringDrains : IIncomingGrainCallFilter
{
    private readonly HashSet<string> _silent = [];

    /// <summary>
    /// Drains the first <paramref name="drained"/> (all, by default) of a type's <paramref name="shards"/> shards in
    /// order, each by <paramref name="drain"/>.
    /// </summary>
    public async Task DrainAsync(string eventId, string typeId, int shards, Func<int, Task> drain, int? drained = null)
    {
        for (var index = 0; index < (drained ?? shards); index++)
        {
            lock (_silent)
            {
                _silent.Clear();
                for (var later = index + 1; later < shards; later++) _silent.Add(new ShardAddress(eventId, typeId, later).Key);
            }
            try
            {
                await drain(index);
            }
            finally
            {
                lock (_silent) _silent.Clear();
            }
        }
    }

    /// <inheritdoc />
    public Task Invoke(IIncomingGrainCallContext call)
    {
        bool silent;
        lock (_silent) silent = call.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales) && _silent.Contains(call.TargetId.Key.ToString()!);
        return silent ? throw new TimeoutException("The shard did not answer (played by a test).") : call.Invoke();
    }
}
