using System.Collections.Concurrent;
using Orleans.GrainDirectory;
using Orleans.Metadata;
using Orleans.Runtime.GrainDirectory;

namespace OrleansTickets.Tests.Cluster;

/// <summary>
/// An in-memory grain directory for Orleans' activation rebalancer worker alone, whose registrations wait until a
/// second after a given stage of the silo's stop begins: the worker's activation stays in the state it has while it
/// registers until then. Every other grain keeps the silo's own directory.
/// </summary>
/// <param name="releaseStage">
/// The lifecycle stage whose stop starts the second: <c>Active + 1</c>, the first Orleans stops, holds the worker
/// from the stop's start; <c>BecomeActive</c>, Orleans' hand-over's own stage, holds it past the moment Orleans asks
/// it to migrate (a worker created before the stop, still registering when Orleans asks).
/// </param>
public sealed class HeldRebalancerDirectory(int releaseStage) : IGrainDirectoryResolver, IGrainDirectory, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>
    /// Long after Orleans asks the worker to migrate (milliseconds into the stage), and well within the test's 30 s, so
    /// that only <see cref="OrleansTickets.Hosting.RebalancerHandoffOnStop"/>'s later requests can move the worker.
    /// </summary>
    private static readonly TimeSpan ReleaseAfterStopBegins = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<GrainId, GrainAddress> _addresses = new();
    private readonly TaskCompletionSource _registering = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the worker has begun to register (it is then activating and held).</summary>
    public Task Registering => _registering.Task;

    /// <summary>Lets the held registration, and every later one, go through.</summary>
    private void Release() => _released.TrySetResult();

    // Counted from the stage's own stop, so whatever ran before it (the web server's stop, on a loaded machine) does
    // not use the second up.
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(HeldRebalancerDirectory), releaseStage, _ => Task.CompletedTask, stopping =>
        {
            _ = Task.Delay(ReleaseAfterStopBegins, CancellationToken.None).ContinueWith(_ => Release(), TaskScheduler.Default);
            return Task.CompletedTask;
        });

    public bool TryResolveGrainDirectory(GrainType grainType, GrainProperties? properties, out IGrainDirectory grainDirectory)
    {
        grainDirectory = this;
        return grainType.ToString().Contains("rebalancer", StringComparison.OrdinalIgnoreCase);
    }

    public async Task<GrainAddress?> Register(GrainAddress address)
    {
        _registering.TrySetResult();
        await _released.Task;
        return _addresses.GetOrAdd(address.GrainId, address);
    }

    public Task Unregister(GrainAddress address)
    {
        _addresses.TryRemove(new KeyValuePair<GrainId, GrainAddress>(address.GrainId, address));
        return Task.CompletedTask;
    }

    public Task<GrainAddress?> Lookup(GrainId grainId) =>
        Task.FromResult(_addresses.TryGetValue(grainId, out var address) ? address : null);

    public Task UnregisterSilos(List<SiloAddress> siloAddresses)
    {
        foreach (var entry in _addresses.Where(entry => siloAddresses.Contains(entry.Value.SiloAddress!)))
        {
            _addresses.TryRemove(entry);
        }
        return Task.CompletedTask;
    }
}
