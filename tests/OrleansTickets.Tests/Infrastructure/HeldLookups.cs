using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A crowd's page loads, played: lookups on a shard database (<see cref="ShardDatabase.LookUpAsync{T}"/>) that each
/// hold their connection until <see cref="Release"/>.
/// </summary>
public sealed class HeldLookups
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inside;
    private int _most;

    /// <summary>Lookups holding a connection now.</summary>
    public int Inside => Volatile.Read(ref _inside);

    /// <summary>The most that ever held one at once.</summary>
    public int Most => Volatile.Read(ref _most);

    /// <summary>Starts one lookup on <paramref name="database"/>: true once it has held a connection and let go of it.</summary>
    public Task<bool> Start(ShardDatabase database) => database.LookUpAsync(async (_, _) =>
    {
        var now = Interlocked.Increment(ref _inside);
        for (var most = Most; now > most && Interlocked.CompareExchange(ref _most, now, most) != most; most = Most)
        {
        }
        await _release.Task;
        Interlocked.Decrement(ref _inside);
        return true;
    });

    /// <summary>Waits until <paramref name="count"/> lookups hold a connection.</summary>
    public Task UntilInsideAsync(int count) => Poll.UntilAsync(() => Task.FromResult(Inside == count), attempts: 500, delayMilliseconds: 20,
        failure: $"{count} lookups never held their connections at once (last seen: {Inside}).");

    /// <summary>Lets every lookup go.</summary>
    public void Release() => _release.TrySetResult();
}
