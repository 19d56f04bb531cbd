namespace OrleansTickets.Inventory;

/// <summary>
/// At most one running task per id; a caller that finds one running shares its result instead of starting another.
/// Used inside one grain activation, so the turn-based scheduler makes the lookup and the start one atomic step.
/// </summary>
/// <remarks>
/// A run is shared only while it runs. It stays listed from its end until its owner's continuation removes it, and a
/// caller whose own continuation on that run comes first (a forward that waited on it) would otherwise be handed a
/// result it chose not to share, such as a one-commit forward's unrecorded "sold out": it starts its own run, as it
/// would a moment later. The owner awaits its run before anyone can meet it, so its continuation comes first today;
/// this check keeps correctness from resting on that order, for <see cref="TryGetRunning"/>'s callers as for
/// <see cref="RunAsync"/>'s.
/// </remarks>
internal sealed class SingleFlight<T>
{
    private readonly Dictionary<string, Task<T>> _running = new(StringComparer.Ordinal);

    /// <summary>The run of <paramref name="id"/> if one is still running (not one that ended and is still listed).</summary>
    public bool TryGetRunning(string id, out Task<T> running) => _running.TryGetValue(id, out running!) && !running.IsCompleted;

    public async Task<T> RunAsync(string id, Func<Task<T>> start)
    {
        if (TryGetRunning(id, out var running)) return await running;
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
