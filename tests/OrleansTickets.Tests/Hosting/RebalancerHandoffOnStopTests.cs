using Microsoft.Extensions.Logging.Abstractions;
using OrleansTickets.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>
/// The hand-over's requests, with a stand-in for the worker's activation: it ignores the first requests to migrate,
/// as an activation still registering in the grain directory does, and deactivates at the next one.
/// </summary>
public sealed class RebalancerHandoffOnStopTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_worker_on_the_silo_when_the_stage_begins_is_asked_until_it_goes()
    {
        var (handOver, lifecycle) = Participating();
        var worker = new RegisteringWorker(ignored: 3);
        handOver.Configure(worker);

        await lifecycle.StopAsync(CancellationToken.None).WaitAsync(Patience);

        Assert.True(worker.Deactivated.IsCompleted);
        Assert.Equal(4, worker.Requests);
    }

    [Fact]
    public async Task A_worker_created_after_the_stage_began_is_asked_until_it_goes()
    {
        // Orleans looks for the worker in a turn of its monitor, which may come after this stage has looked and found
        // none: the worker created in between is the one Orleans then waits for.
        var (handOver, lifecycle) = Participating();
        await lifecycle.StopAsync(CancellationToken.None).WaitAsync(Patience);

        var worker = new RegisteringWorker(ignored: 3);
        handOver.Configure(worker);

        await worker.Deactivated.WaitAsync(Patience);
        Assert.Equal(4, worker.Requests);
    }

    [Fact]
    public async Task Asking_ends_with_the_stops_budget()
    {
        var (handOver, lifecycle) = Participating();
        var worker = new RegisteringWorker(ignored: int.MaxValue);
        handOver.Configure(worker);
        using var budget = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await lifecycle.StopAsync(budget.Token).WaitAsync(Patience);

        Assert.False(worker.Deactivated.IsCompleted);
        Assert.InRange(worker.Requests, 1, 10);
    }

    // The grain factory is used only to look up the worker's grain type, which these tests never ask for.
    private static (RebalancerHandoffOnStop HandOver, StageCapture Lifecycle) Participating()
    {
        var handOver = new RebalancerHandoffOnStop(null!, NullLogger<RebalancerHandoffOnStop>.Instance);
        var lifecycle = new StageCapture();
        handOver.Participate(lifecycle);
        return (handOver, lifecycle);
    }

    /// <summary>The one stop a participant subscribes, at the stage Orleans' own hand-over stops in.</summary>
    private sealed class StageCapture : ISiloLifecycle
    {
        private ILifecycleObserver? _observer;

        public int HighestCompletedStage => 0;

        public int LowestStoppedStage => 0;

        public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
        {
            Assert.Equal(ServiceLifecycleStage.BecomeActive, stage);
            _observer = observer;
            return new CancellationTokenSource();
        }

        public Task StopAsync(CancellationToken budget) => _observer!.OnStop(budget);
    }

    private sealed class RegisteringWorker(int ignored) : IGrainContext
    {
        private readonly TaskCompletionSource _deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        public Task Deactivated => _deactivated.Task;

        public void Migrate(Dictionary<string, object>? requestContext, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _requests) > ignored)
            {
                _deactivated.TrySetResult();
            }
        }

        public GrainReference GrainReference => throw new NotSupportedException();
        public GrainId GrainId => throw new NotSupportedException();
        public object? GrainInstance => null;
        public ActivationId ActivationId => throw new NotSupportedException();
        public GrainAddress Address => throw new NotSupportedException();
        public IServiceProvider ActivationServices => throw new NotSupportedException();
        public IGrainLifecycle ObservableLifecycle => throw new NotSupportedException();
        public IWorkItemScheduler Scheduler => throw new NotSupportedException();
        public void SetComponent<TComponent>(TComponent? value) where TComponent : class => throw new NotSupportedException();
        public object? GetComponent(Type componentType) => null;
        public object? GetTarget() => null;
        public void ReceiveMessage(object message) => throw new NotSupportedException();
        public void Activate(Dictionary<string, object>? requestContext, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public void Deactivate(DeactivationReason deactivationReason, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public void Rehydrate(IRehydrationContext context) => throw new NotSupportedException();
        public bool Equals(IGrainContext? other) => ReferenceEquals(this, other);
    }
}
