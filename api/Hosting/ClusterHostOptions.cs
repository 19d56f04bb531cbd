using System.Net;
using Orleans.Configuration;
using OrleansTickets.Api.Http;

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

    /// <summary>AdoNet membership: the membership database. Defaults to <c>Storage:ConnectionString</c> when storage is on PostgreSQL.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Silos (and API front ends) with the same cluster and service ids form one cluster.</summary>
    public string ClusterId { get; set; } = "orleans-tickets";

    /// <summary>Identifies the service across cluster restarts; part of grain storage keys.</summary>
    public string ServiceId { get; set; } = "orleans-tickets";

    /// <summary>
    /// AdoNet membership: the IP address this silo listens on and gives the other silos and the front ends (through
    /// the membership table). Loopback by default, which keeps a cluster on one machine; silos on several machines
    /// each give their own address here.
    /// </summary>
    public string? Address { get; set; }

    /// <summary>The silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>The port external clients (API front ends) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Reads the <c>Cluster</c> section; defaults apply to anything missing.</summary>
    /// <exception cref="InvalidOperationException"><see cref="Membership"/> names neither kind.</exception>
    public static ClusterHostOptions From(IConfiguration configuration)
    {
        var options = configuration.GetSection(SectionName).Get<ClusterHostOptions>() ?? new();
        // A misspelt kind must not quietly mean a one-silo cluster: several such silos on one shared database would
        // each run the same shards, fencing each other for good.
        if (!options.UsesAdoNetClustering && !string.Equals(options.Membership, "Localhost", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Cluster:Membership must be Localhost or AdoNet, got '{options.Membership}'.");
        }
        // Refused here by name rather than by a socket error deep in Orleans' start. A gateway port of 0 is Orleans' own
        // "no gateway": front ends then reach the cluster through other silos only.
        if (options.SiloPort is < 1 or > ushort.MaxValue)
        {
            throw new InvalidOperationException($"Cluster:SiloPort must be a port from 1 to 65535, got {options.SiloPort}.");
        }
        if (options.GatewayPort is < 0 or > ushort.MaxValue)
        {
            throw new InvalidOperationException($"Cluster:GatewayPort must be a port from 1 to 65535, or 0 for no gateway, got {options.GatewayPort}.");
        }
        return options.GatewayPort != options.SiloPort
            ? options
            : throw new InvalidOperationException($"Cluster:SiloPort and Cluster:GatewayPort must differ, both are {options.SiloPort}.");
    }

    /// <summary>The address from <see cref="Address"/>, or loopback when it is not set.</summary>
    /// <exception cref="InvalidOperationException">It is not an IP address.</exception>
    public IPAddress SiloAddress() =>
        Address is null ? IPAddress.Loopback
        : IPAddress.TryParse(Address, out var address) ? address
        : throw new InvalidOperationException($"Cluster:Address must be an IP address, got '{Address}'.");

    /// <summary>
    /// The membership database's host when this silo gives its peers loopback (no <see cref="Address"/>) although that
    /// database is on another machine; null otherwise. A remote membership database usually means silos on several
    /// machines, which cannot reach a silo at 127.0.0.1, and one on another machine that also gives 127.0.0.1 and the
    /// same port would be taken by Orleans for a restart of this one, which would then be declared dead.
    /// </summary>
    public string? RemoteMembershipHostWhileLoopback(string membershipConnectionString)
    {
        if (Address is not null) return null;
        var host = new Npgsql.NpgsqlConnectionStringBuilder(membershipConnectionString).Host;
        if (string.IsNullOrEmpty(host)) return null;
        // Several hosts may be listed (fail-over); a socket folder starts with '/'.
        var remote = host.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(HostOf).FirstOrDefault(h => !h.StartsWith('/') && !LoopbackHost.IsNamedBy(h));
        return remote is null ? null : host;
    }

    /// <summary>A host list entry without its port: <c>db:5432</c>, <c>[::1]:5432</c>, or a bare IPv6 address as it is.</summary>
    private static string HostOf(string entry) =>
        IPAddress.TryParse(entry.Trim('[', ']'), out _) ? entry
        : entry.StartsWith('[') && entry.IndexOf(']') is > 0 and var end ? entry[..(end + 1)]
        : entry.Count(c => c == ':') == 1 ? entry[..entry.IndexOf(':')]
        : entry;

    /// <summary>
    /// The membership database: <see cref="ConnectionString"/>, else <c>Storage:ConnectionString</c> when storage is on
    /// PostgreSQL too. Membership is always on PostgreSQL, so a SQL Server storage string is never taken for it.
    /// </summary>
    public string MembershipConnectionString(IConfiguration configuration)
    {
        if (ConnectionString is not null) return ConnectionString;
        if (string.Equals(configuration["Storage:Provider"], "SqlServer", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                "Cluster:Membership=AdoNet keeps the membership table on PostgreSQL: with Storage:Provider=SqlServer, set Cluster:ConnectionString to a PostgreSQL database.");
        }
        return configuration["Storage:ConnectionString"]
            ?? throw new InvalidOperationException("PostgreSQL membership needs Cluster:ConnectionString or Storage:ConnectionString.");
    }

    /// <summary>Points a silo's ADO.NET membership table at the PostgreSQL membership database.</summary>
    public static void UsePostgres(AdoNetClusteringSiloOptions options, string connectionString) =>
        (options.Invariant, options.ConnectionString) = ("Npgsql", connectionString);

    /// <summary>Points a client's ADO.NET gateway list at the PostgreSQL membership database.</summary>
    public static void UsePostgres(AdoNetClusteringClientOptions options, string connectionString) =>
        (options.Invariant, options.ConnectionString) = ("Npgsql", connectionString);

    /// <summary>Copies the cluster and service ids into Orleans' options.</summary>
    public void ConfigureIds(ClusterOptions options) => (options.ClusterId, options.ServiceId) = (ClusterId, ServiceId);

    /// <summary>True when silos use the shared ADO.NET membership table.</summary>
    public bool UsesAdoNetClustering => string.Equals(Membership, "AdoNet", StringComparison.OrdinalIgnoreCase);
}
