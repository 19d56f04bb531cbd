using OrleansTickets.Events;
using OrleansTickets.Sales;

namespace OrleansTickets.Api.Events;

/// <summary>
/// Lets the <c>/sales</c> readers of one front end share the event catalog's reads: at most one read per event runs
/// from here, and everyone who asks while it runs shares the next one.
/// </summary>
/// <remarks>
/// The catalog answers <c>/sales</c> by asking every shard of the event, for up to 5 s, and does not interleave it
/// with its other calls (so a grant being delivered is counted once). A crowd polling this public endpoint would
/// otherwise queue a read each ahead of operators' capacity additions, the buyers' event page and the grant timer,
/// until they timed out. A caller is never answered from a read that started before it asked: that read may predate
/// a sale or a grant the caller already knows of, so it waits for the next. A failure is another matter: in the second
/// after a read failed, the catalog answers the next ones with that failure without asking (a 503, not a count).
/// </remarks>
public sealed class SharedSalesReads(Func<string, Task<EventSales?>> read)
{
    private readonly Lock _lock = new();

    // Events with a read running from here, each with whoever asked while it ran (null until someone did).
    private readonly Dictionary<string, TaskCompletionSource<EventSales?>?> _running = new(StringComparer.Ordinal);

    /// <summary>Reads through <paramref name="grains"/>' event catalogs.</summary>
    public SharedSalesReads(IGrainFactory grains) : this(eventId => grains.GetEventGrain(eventId).GetSales())
    {
    }

    /// <summary>The event's sales from a read that started after this call.</summary>
    public Task<EventSales?> ReadAsync(string eventId)
    {
        lock (_lock)
        {
            if (_running.TryGetValue(eventId, out var next))
            {
                if (next is null) _running[eventId] = next = new TaskCompletionSource<EventSales?>(TaskCreationOptions.RunContinuationsAsynchronously);
                return next.Task;
            }
            _running.Add(eventId, null);
        }
        return RunAsync(eventId);
    }

    private async Task<EventSales?> RunAsync(string eventId)
    {
        try
        {
            return await read(eventId);
        }
        finally
        {
            TaskCompletionSource<EventSales?>? next;
            lock (_lock)
            {
                next = _running[eventId];
                if (next is null) _running.Remove(eventId);
                else _running[eventId] = null;
            }
            // Everyone who asked during this read shares one that starts now; the event stays running, so later askers wait for the one after.
            if (next is not null) _ = Forward(RunAsync(eventId), next);
        }
    }

    private static async Task Forward(Task<EventSales?> running, TaskCompletionSource<EventSales?> waiting)
    {
        try
        {
            waiting.TrySetResult(await running);
        }
        catch (Exception exception)
        {
            waiting.TrySetException(exception);
        }
    }
}
