using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace OrleansTickets.Hosting;

/// <summary>
/// Orleans' ADO.NET grain storage as it is, except that its start-up step (reading its queries from the catalog
/// database) is run again while that database is briefly out, instead of failing the silo's start.
/// </summary>
public sealed class StartRetryingGrainStorage(IGrainStorage inner, ILogger logger) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);

    // The interface's own versions of these drop the token and call the ones above.
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        inner.ReadStateAsync(stateName, grainId, grainState, cancellationToken);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        inner.WriteStateAsync(stateName, grainId, grainState, cancellationToken);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        inner.ClearStateAsync(stateName, grainId, grainState, cancellationToken);

    // Orleans subscribes the provider through its keyed service, which is now this one; the provider's own subscriptions
    // are passed on with each start step wrapped.
    public void Participate(ISiloLifecycle lifecycle)
    {
        if (inner is ILifecycleParticipant<ISiloLifecycle> participant) participant.Participate(new RetryingSubscriptions(lifecycle, logger));
    }

    private sealed class RetryingSubscriptions(ISiloLifecycle lifecycle, ILogger logger) : ISiloLifecycle
    {
        public int HighestCompletedStage => lifecycle.HighestCompletedStage;

        public int LowestStoppedStage => lifecycle.LowestStoppedStage;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer) =>
            lifecycle.Subscribe(observerName, stage, new RetryingObserver(observerName, observer, logger));
    }

    private sealed class RetryingObserver(string name, ILifecycleObserver inner, ILogger logger) : ILifecycleObserver
    {
        public Task OnStart(CancellationToken cancellationToken) => DatabaseStartRetry.RunAsync(name, inner.OnStart, logger, cancellationToken);

        public Task OnStop(CancellationToken cancellationToken) => inner.OnStop(cancellationToken);
    }
}
