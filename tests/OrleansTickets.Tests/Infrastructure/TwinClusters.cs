namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Two clusters of one service over the same databases: each activates its own copy of every grain, and neither knows of
/// the other, as a split directory during a membership change can briefly cause. Tests play duplicate activations so.
/// </summary>
public sealed class TwinClusters(TicketingCluster first, TicketingCluster second) : IAsyncDisposable
{
    public TicketingCluster First { get; } = first;

    public TicketingCluster Second { get; } = second;

    /// <summary>
    /// Starts both, the first with <paramref name="configureFirst"/>, then runs <paramref name="setUp"/>; stops both when
    /// anything fails.
    /// </summary>
    public static async Task<TwinClusters> StartAsync(
        TestStorage storage, string name, Action<ISiloBuilder>? configureFirst = null, Func<TwinClusters, Task>? setUp = null)
    {
        var service = name + "-" + Guid.NewGuid().ToString("N")[..8];
        var first = await TicketingCluster.StartAsync(storage, configureSilo: configureFirst, serviceId: service);
        TwinClusters? twins = null;
        try
        {
            twins = new TwinClusters(first, await TicketingCluster.StartAsync(storage, serviceId: service));
            if (setUp is not null) await setUp(twins);
            return twins;
        }
        catch
        {
            if (twins is not null) await twins.DisposeAsync();
            else await first.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Second.DisposeAsync();
        await First.DisposeAsync();
    }
}
