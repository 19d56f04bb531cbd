using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
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

    /// <summary>Creates a database on the collection's server and runs the membership script on it.</summary>
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

    /// <summary>The values a cleanup reads of a row before it picks it: start, heartbeat and votes, as stored.</summary>
    public async Task<(DateTime StartTime, DateTime IAmAliveTime, string? SuspectTimes)> CleanupValuesAsync(string clusterId, SiloAddress silo)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT StartTime, IAmAliveTime, SuspectTimes FROM OrleansMembershipTable " +
            "WHERE DeploymentId = @c AND Address = @a AND Port = @p AND Generation = @g", connection);
        AddSilo(command, clusterId, silo);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetDateTime(0), reader.GetDateTime(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    /// <summary>
    /// Runs the stored per-row cleanup (<c>CleanupDefunctSiloEntryKey</c>) for <paramref name="silo"/> with the values
    /// the provider read before, as the provider binds them; returns the rows it deleted.
    /// </summary>
    public async Task<int> CleanUpRowAsync(
        string clusterId, SiloAddress silo, (DateTime StartTime, DateTime IAmAliveTime, string? SuspectTimes) read)
    {
        await using var connection = await OpenAsync();
        string query;
        await using (var text = new NpgsqlCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'CleanupDefunctSiloEntryKey'", connection))
        {
            query = (string)(await text.ExecuteScalarAsync())!;
        }
        await using var cleanup = new NpgsqlCommand(query, connection);
        cleanup.Parameters.AddWithValue("DeploymentId", clusterId);
        cleanup.Parameters.AddWithValue("Address", silo.Endpoint.Address.ToString());
        cleanup.Parameters.AddWithValue("Port", silo.Endpoint.Port);
        cleanup.Parameters.AddWithValue("Generation", silo.Generation);
        cleanup.Parameters.AddWithValue("StartTime", DateTime.SpecifyKind(read.StartTime, DateTimeKind.Utc));
        cleanup.Parameters.AddWithValue("IAmAliveTime", DateTime.SpecifyKind(read.IAmAliveTime, DateTimeKind.Utc));
        cleanup.Parameters.AddWithValue("SuspectTimes", (object?)read.SuspectTimes ?? DBNull.Value);
        return await cleanup.ExecuteNonQueryAsync();
    }

    /// <summary>Runs <paramref name="set"/> (an UPDATE's SET list) on <paramref name="silo"/>'s row.</summary>
    public Task ChangeRowAsync(string clusterId, SiloAddress silo, string set) => UpdateRowAsync(clusterId, silo, set, _ => { });

    /// <summary>Puts back a dead row's values as <see cref="CleanupValuesAsync"/> read them.</summary>
    public Task RestoreDeadRowAsync(string clusterId, SiloAddress silo, (DateTime StartTime, DateTime IAmAliveTime, string? SuspectTimes) read) =>
        UpdateRowAsync(clusterId, silo, "Status = 6, StartTime = @start, IAmAliveTime = @alive, SuspectTimes = @votes", command =>
        {
            command.Parameters.AddWithValue("start", read.StartTime);
            command.Parameters.AddWithValue("alive", read.IAmAliveTime);
            command.Parameters.AddWithValue("votes", (object?)read.SuspectTimes ?? DBNull.Value);
        });

    private async Task UpdateRowAsync(string clusterId, SiloAddress silo, string set, Action<NpgsqlCommand> bind)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            $"UPDATE OrleansMembershipTable SET {set} WHERE DeploymentId = @c AND Address = @a AND Port = @p AND Generation = @g", connection);
        AddSilo(command, clusterId, silo);
        bind(command);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static void AddSilo(NpgsqlCommand command, string clusterId, SiloAddress silo)
    {
        command.Parameters.AddWithValue("c", clusterId);
        command.Parameters.AddWithValue("a", silo.Endpoint.Address.ToString());
        command.Parameters.AddWithValue("p", silo.Endpoint.Port);
        command.Parameters.AddWithValue("g", silo.Generation);
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }
}
