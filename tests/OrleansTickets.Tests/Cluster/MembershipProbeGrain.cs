namespace OrleansTickets.Tests.Cluster;

/// <summary>A grain that only reports where it runs, so membership tests can prove calls still route.</summary>
public interface IMembershipProbeGrain : IGrainWithIntegerKey
{
    /// <summary>Returns the identity of the silo hosting this activation.</summary>
    Task<string> HostAsync();
}

/// <inheritdoc cref="IMembershipProbeGrain"/>
public sealed class MembershipProbeGrain : Grain, IMembershipProbeGrain
{
    /// <inheritdoc/>
    public Task<string> HostAsync() => Task.FromResult(RuntimeIdentity);
}
