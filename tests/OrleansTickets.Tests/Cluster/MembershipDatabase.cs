using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Cluster;

/// <summary>One membership row as stored, read straight from the table rather than through Orleans.</summary>
/// <param name="Silo">The silo's address and generation.</param>
/// <param name="Status">The stored <see cref="SiloStatus"/>.</param>
/// <param name="SuspectTimes">The stored death votes, or <see langword="null"/>.</param>
public sealed record StoredMember(SiloAddress Silo, SiloStatus Status, string? SuspectTimes);

/// <summary>A fresh PostgreSQL database with the membership schema, and ways to look at it.</summary>
public sealed class MembershipDatabase
{
    private MembershipDatabase(string connectionString) => ConnectionString = connectionString;

    /// <summary>Where the database is.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates a database on the shared server and runs the membership script on it.</summary>
    public static async Task<MembershipDatabase> CreateAsync(PostgresFixture postgres, string prefix)
    {
        var connectionString = await postgres.CreateDatabaseAsync(prefix);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await MembershipSchema.EnsureCreatedAsync(connection, SqlDialect.PostgreSql);
        return new MembershipDatabase(connectionString);
    }

    /// <summary>Orleans' own ADO.NET membership table for <paramref name="clusterId"/>, built outside any silo.</summary>
    public AdoNetClusteringTable Table(string clusterId) => new(
        new ServiceCollection().BuildServiceProvider(),
        Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "membership-tests" }),
        Options.Create(new AdoNetClusteringSiloOptions { Invariant = "Npgsql", ConnectionString = ConnectionString }),
        NullLogger<AdoNetClusteringTable>.Instance);

    /// <summary>The stored table version of <paramref name="clusterId"/>, or <see langword="null"/> without a version row.</summary>
    public async Task<int?> VersionAsync(string clusterId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand("SELECT Version FROM OrleansMembershipVersionTable WHERE DeploymentId = @c", connection);
        command.Parameters.AddWithValue("c", clusterId);
        return await command.ExecuteScalarAsync() as int?;
    }

    /// <summary>Every stored member row of <paramref name="clusterId"/>.</summary>
    public async Task<IReadOnlyList<StoredMember>> MembersAsync(string clusterId)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT Address, Port, Generation, Status, SuspectTimes FROM OrleansMembershipTable WHERE DeploymentId = @c", connection);
        command.Parameters.AddWithValue("c", clusterId);
        await using var reader = await command.ExecuteReaderAsync();
        var members = new List<StoredMember>();
        while (await reader.ReadAsync())
        {
            var silo = SiloAddress.New(IPAddress.Parse(reader.GetString(0)), reader.GetInt32(1), reader.GetInt32(2));
            members.Add(new StoredMember(silo, (SiloStatus)reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return members;
    }

    /// <summary>Runs <paramref name="sql"/> on the database.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
