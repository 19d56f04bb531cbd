using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;

namespace OrleansTickets.Hosting;

/// <summary>How shard grains spread over silos when the cluster grows.</summary>
/// <remarks>
/// New activations go where Orleans' default placement (resource-optimized) puts them, so a fresh cluster spreads
/// shards as they wake. Activations do not move by themselves when a silo joins later, so cluster mode turns on
/// Orleans' activation rebalancer, which migrates activations from busier silos to the newcomer. A migrated shard is
/// deactivated and reactivated: the new activation claims a new epoch and reloads from its database, exactly as
/// after any other move, so a move costs a reload and never a sale.
/// </remarks>
public static class ShardRebalancingExtensions
{
    /// <summary>The configuration section bound to Orleans' <see cref="ActivationRebalancerOptions"/>.</summary>
    public const string SectionName = "Cluster:Rebalancer";

    public static ISiloBuilder AddShardRebalancing(this ISiloBuilder silo, IConfiguration configuration)
    {
#pragma warning disable ORLEANSEXP002 // Experimental in Orleans 10; opted into on purpose, see the remarks.
        silo.AddActivationRebalancer();
#pragma warning restore ORLEANSEXP002
        silo.Services.AddOptions<ActivationRebalancerOptions>().Bind(configuration.GetSection(SectionName));
        // One instance both sees the worker's activations and hands the latest over on a stop.
        silo.Services.AddSingleton<RebalancerHandoffOnStop>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<RebalancerHandoffOnStop>());
        silo.Services.AddSingleton<IConfigureGrainContextProvider>(services => services.GetRequiredService<RebalancerHandoffOnStop>());
        return silo;
    }
}
