namespace OrleansTickets.Api.Hosting;

/// <summary>How this silo finds its cluster. Bound from the <c>Cluster</c> configuration section.</summary>
/// <remarks>Not the <c>Orleans</c> section: Orleans reads that one itself, e.g. <c>Orleans:Clustering</c> as a provider name.</remarks>
public sealed class ClusterHostOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Cluster";

    /// <summary>
    /// <c>Localhost</c> (default): a single silo that keeps membership itself.
    /// <c>AdoNet</c>: silos form a cluster through a membership table in PostgreSQL.
    /// </summary>
    public string Membership { get; set; } = "Localhost";

    /// <summary>AdoNet membership: the membership database. Defaults to <c>Storage:ConnectionString</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Silos (and API front ends) with the same cluster and service ids form one cluster.</summary>
    public string ClusterId { get; set; } = "orleans-tickets";

    /// <summary>Identifies the service across cluster restarts; part of grain storage keys.</summary>
    public string ServiceId { get; set; } = "orleans-tickets";

    /// <summary>The silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port external clients (API front ends) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>True when silos use the shared ADO.NET membership table.</summary>
    public bool UsesAdoNetClustering => string.Equals(Membership, "AdoNet", StringComparison.OrdinalIgnoreCase);
}
