namespace OrleansTickets.Inventory;

/// <summary>
/// At most one running task per id; a caller that finds one running shares its result instead of starting another.
/// Used inside one grain activation, so the turn-based scheduler makes the lookup and the start one atomic step.
/// </summary>
internal sealed class SingleFlight<T>
{
    private readonly Dictionary<string, Task<T>> _running = new(StringComparer.Ordinal);

    public bool TryGetRunning(string id, out Task<T> running) => _running.TryGetValue(id, out running!);

    public async Task<T> RunAsync(string id, Func<Task<T>> start)
    {
        if (_running.TryGetValue(id, out var running)) return await running;
        var task = start();
        _running[id] = task;
        try
        {
            return await task;
        }
        finally
        {
            if (_running.TryGetValue(id, out var current) && current == task) _running.Remove(id);
        }
    }
}
