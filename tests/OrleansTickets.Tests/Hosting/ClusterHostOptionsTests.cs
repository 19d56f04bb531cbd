using System.Net;
using Microsoft.Extensions.Configuration;
using OrleansTickets.Tests.Infrastructure;
using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>The kind of membership a silo uses is one it knows, or the silo does not start.</summary>
public sealed class ClusterHostOptionsTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("Localhost", false)]
    [InlineData("localhost", false)]
    [InlineData("AdoNet", true)]
    [InlineData("adonet", true)]
    public void Localhost_and_AdoNet_are_read_in_any_case(string? membership, bool adoNet)
    {
        var options = ClusterHostOptions.From(Configuration(membership));

        Assert.Equal(adoNet, options.UsesAdoNetClustering);
    }

    [Theory]
    [InlineData("Host=db.example;Database=tickets", null, "db.example")]
    [InlineData("Host=10.0.0.5,127.0.0.1;Database=tickets", null, "10.0.0.5,127.0.0.1")]
    [InlineData("Host=127.0.0.1;Port=15432;Database=tickets", null, null)]
    [InlineData("Host=localhost;Database=tickets", null, null)]
    [InlineData("Host=::1;Database=tickets", null, null)]
    [InlineData("Host=[::1]:15432,localhost:15433;Database=tickets", null, null)]
    [InlineData("Host=db.example:5433;Database=tickets", null, "db.example:5433")]
    [InlineData("Host=/var/run/postgresql;Database=tickets", null, null)]
    [InlineData("Host=db.example;Database=tickets", "10.0.0.7", null)]
    public void A_silo_giving_loopback_beside_a_membership_database_on_another_machine_is_named(string membership, string? address, string? warnedHost)
    {
        var options = new ClusterHostOptions { Membership = "AdoNet", Address = address };

        Assert.Equal(warnedHost, options.RemoteMembershipHostWhileLoopback(membership));
    }

    [Theory]
    [InlineData("Postgres")]
    [InlineData("AdoNet ")]
    [InlineData("")]
    public void Any_other_kind_is_refused_instead_of_meaning_a_one_silo_cluster(string membership)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ClusterHostOptions.From(Configuration(membership)));

        Assert.Contains("Cluster:Membership", error.Message);
    }

    [Fact]
    public void A_silo_gives_loopback_unless_told_its_address_and_the_address_must_be_an_ip()
    {
        Assert.Equal(IPAddress.Loopback, ClusterHostOptions.From(Configuration("AdoNet")).SiloAddress());
        Assert.Equal(IPAddress.Parse("10.1.2.3"), Options("10.1.2.3").SiloAddress());
        Assert.Equal(IPAddress.Parse("fd00::7"), Options("fd00::7").SiloAddress());
        var error = Assert.Throws<InvalidOperationException>(() => Options("silo-2.example").SiloAddress());
        Assert.Contains("Cluster:Address", error.Message);

        static ClusterHostOptions Options(string address) => ClusterHostOptions.From(new ConfigurationBuilder().AddInMemoryCollection(
            [new("Cluster:Membership", "AdoNet"), new KeyValuePair<string, string?>("Cluster:Address", address)]).Build());
    }

    [Fact]
    public async Task A_cluster_on_sqlite_shard_files_is_refused()
    {
        // Each silo would keep its own files once silos run on several machines, and a shard that moved would sell
        // its serials again from another silo's files.
        using var storage = TestStorage.Sqlite();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Cluster:Membership"] = "AdoNet" }));

        Assert.Contains("Storage:Provider", error.Message);
    }

    [Fact]
    public async Task A_cluster_without_a_shared_signing_key_is_refused()
    {
        // Each silo would sign with a key file of its own, and a gate holding one key would refuse the others' tickets.
        using var storage = TestStorage.Sqlite();
        storage.Settings["Storage:Provider"] = "PostgreSql";
        storage.Settings["Storage:ConnectionString"] = "Host=127.0.0.1;Database=unused";
        storage.Settings.Remove("Tickets:SigningKey");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            ApiHost.StartAsync(storage, new Dictionary<string, string?> { ["Cluster:Membership"] = "AdoNet" }));

        Assert.Contains("Tickets:SigningKey", error.Message);
    }

    [Fact]
    public void Membership_never_takes_a_sql_server_storage_string_for_its_postgres_database()
    {
        // The membership table is on PostgreSQL whatever the storage: handing it SQL Server's connection string ended
        // the start in an unrelated Npgsql error (or three minutes of waiting on a port nothing listens on).
        var sqlServer = "Server=tcp:tickets.example,1433;Database=catalog;User ID=ops;Password=secret";
        var storageOnly = ClusterHostOptions.From(Build(("Storage:Provider", "SqlServer"), ("Storage:ConnectionString", sqlServer)));
        var error = Assert.Throws<InvalidOperationException>(() =>
            storageOnly.MembershipConnectionString(Build(("Storage:Provider", "SqlServer"), ("Storage:ConnectionString", sqlServer))));
        Assert.Contains("Cluster:ConnectionString", error.Message);

        var postgres = "Host=127.0.0.1;Database=membership";
        var settings = Build(("Storage:Provider", "sqlserver"), ("Storage:ConnectionString", sqlServer), ("Cluster:ConnectionString", postgres));
        Assert.Equal(postgres, ClusterHostOptions.From(settings).MembershipConnectionString(settings));
        var onPostgres = Build(("Storage:Provider", "PostgreSql"), ("Storage:ConnectionString", postgres));
        Assert.Equal(postgres, ClusterHostOptions.From(onPostgres).MembershipConnectionString(onPostgres));

        static IConfiguration Build(params (string Key, string Value)[] pairs) => new ConfigurationBuilder()
            .AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value)).Prepend(new("Cluster:Membership", "AdoNet")))
            .Build();
    }

    [Theory]
    [InlineData("0", "30000", "Cluster:SiloPort must be a port from 1 to 65535, got 0.")]
    [InlineData("70000", "30000", "Cluster:SiloPort must be a port from 1 to 65535, got 70000.")]
    [InlineData("11111", "-1", "Cluster:GatewayPort must be a port from 1 to 65535, or 0 for no gateway, got -1.")]
    [InlineData("11111", "65536", "Cluster:GatewayPort must be a port from 1 to 65535, or 0 for no gateway, got 65536.")]
    [InlineData("11111", "11111", "Cluster:SiloPort and Cluster:GatewayPort must differ, both are 11111.")]
    [InlineData("11111", "0", null)]
    [InlineData("65535", "1", null)]
    public void A_port_out_of_range_or_taken_twice_is_refused_by_name(string siloPort, string gatewayPort, string? refusal)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:SiloPort"] = siloPort,
            ["Cluster:GatewayPort"] = gatewayPort,
        }).Build();

        if (refusal is null)
        {
            Assert.Equal(int.Parse(gatewayPort, System.Globalization.CultureInfo.InvariantCulture), ClusterHostOptions.From(configuration).GatewayPort);
        }
        else
        {
            Assert.Equal(refusal, Assert.Throws<InvalidOperationException>(() => ClusterHostOptions.From(configuration)).Message);
        }
    }

    private static IConfiguration Configuration(string? membership) =>
        new ConfigurationBuilder().AddInMemoryCollection(
            membership is null ? [] : [new KeyValuePair<string, string?>("Cluster:Membership", membership)]).Build();
}
