using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// The catalog's real grain storage (Orleans' ADO.NET provider on the test's database), with faults a test arms: the
/// next write of a state fails before it reaches the database, or after it was stored (an answer lost on the way
/// back), or the next read of it fails.
/// </summary>
public sealed class FaultyCatalogStorage
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Func<Func<Task>, Task>> _writes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reads = new(StringComparer.Ordinal);

    /// <summary>Silo set-up that puts this in front of the catalog's storage provider.</summary>
    public void Install(ISiloBuilder silo) => Install(silo.Services);

    /// <summary>The same, for the services of a host that runs a silo (<see cref="ApiHost"/>).</summary>
    public void Install(IServiceCollection services) =>
        services.AddKeyedSingleton<IGrainStorage>(OrleansTickets.Catalog.StorageNames.Catalog,
            (provider, name) => new Decorator(this, AdoNetGrainStorageFactory.Create(provider, (string)name!)));

    /// <summary>The next write of <paramref name="stateName"/> writes nothing and throws <paramref name="exception"/>.</summary>
    public void FailNextWrite(string stateName, Exception exception) => ArmWrite(stateName, _ => Task.FromException(exception));

    /// <summary>The next write of <paramref name="stateName"/> is stored, and the one after it fails as in <see cref="FailNextWrite"/>.</summary>
    public void FailWriteAfterNext(string stateName, Exception exception) => ArmWrite(stateName, async write =>
    {
        await write();
        FailNextWrite(stateName, exception);
    });

    /// <summary>The next write of <paramref name="stateName"/> is stored, then its caller gets <paramref name="exception"/>.</summary>
    public void LoseNextWriteAnswer(string stateName, Exception exception) => ArmWrite(stateName, async write =>
    {
        await write();
        throw exception;
    });

    /// <summary>The next read of <paramref name="stateName"/> throws.</summary>
    public void FailNextRead(string stateName)
    {
        lock (_gate) _reads.Add(stateName);
    }

    /// <summary>Whether a fault armed for the writes of <paramref name="stateName"/> is still waiting for its write.</summary>
    public bool WriteFaultArmed(string stateName)
    {
        lock (_gate) return _writes.ContainsKey(stateName);
    }

    private void ArmWrite(string stateName, Func<Func<Task>, Task> fault)
    {
        lock (_gate) _writes[stateName] = fault;
    }

    private Func<Func<Task>, Task>? TakeWriteFault(string stateName)
    {
        lock (_gate) return _writes.Remove(stateName, out var fault) ? fault : null;
    }

    private bool TakeReadFault(string stateName)
    {
        lock (_gate) return _reads.Remove(stateName);
    }

    private sealed class Decorator(FaultyCatalogStorage faults, AdoNetGrainStorage inner) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            faults.TakeReadFault(stateName)
                ? Task.FromException(new InvalidOperationException("The catalog database did not answer (played by a test)."))
                : inner.ReadStateAsync(stateName, grainId, grainState);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            faults.TakeWriteFault(stateName) is { } fault
                ? fault(() => inner.WriteStateAsync(stateName, grainId, grainState))
                : inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
            inner.ClearStateAsync(stateName, grainId, grainState);

        // Orleans registers the provider as a lifecycle participant through its keyed service, which is now this.
        public void Participate(ISiloLifecycle lifecycle) => inner.Participate(lifecycle);
    }
}
