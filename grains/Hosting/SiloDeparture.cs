using Microsoft.Extensions.Hosting;

namespace OrleansTickets.Hosting;

/// <summary>
/// Cancelled as this silo begins to stop, before Orleans deactivates its grains: work that only waits on others (a
/// drain asking one shard after another whether it can take a gift) stops there instead of holding the stop.
/// </summary>
/// <remarks>
/// Orleans deactivates an activation only once none of its requests is running, and holds every call that arrives for
/// it meanwhile: a drained shard's walk of up to <c>DrainWalkBudget</c> plus a question would hold the shard's buyers
/// and the silo's stop that long. Stops run from the last stage down, so this one (<see cref="ServiceLifecycleStage.Active"/>)
/// ends before the stage where Orleans deactivates the grains (<c>GrainDeactivation</c>, just below
/// <see cref="ServiceLifecycleStage.BecomeActive"/>). A process that hosts a front end too stops its web server
/// first, which waits for the requests in flight, an operator's drain among them: so the host's own stop signal
/// (<see cref="IHostApplicationLifetime.ApplicationStopping"/>, at the start of the whole stop) cancels it as well.
/// </remarks>
public sealed class SiloDeparture : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _departing = new();
    private readonly CancellationTokenRegistration _hostStopping;

    public SiloDeparture(IHostApplicationLifetime? host = null) =>
        _hostStopping = host?.ApplicationStopping.Register(static state => ((CancellationTokenSource)state!).Cancel(), _departing) ?? default;

    /// <summary>Cancelled once this silo (or the process hosting it) has begun to stop; never before.</summary>
    public CancellationToken Token => _departing.Token;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloDeparture), ServiceLifecycleStage.Active, _ => Task.CompletedTask, _ => _departing.CancelAsync());

    public void Dispose()
    {
        _hostStopping.Dispose();
        _departing.Dispose();
    }
}
