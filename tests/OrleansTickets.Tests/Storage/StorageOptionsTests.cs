using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansTickets.Diagnostics;
using OrleansTickets.Hosting;
using Npgsql;
using OrleansTickets.Storage;
using Xunit;

namespace OrleansTickets.Tests.Storage;

/// <summary>Storage settings that would break the commit path are refused when the silo starts.</summary>
public sealed class StorageOptionsTests
{
    [Theory]
    [InlineData("-1")]
    [InlineData("1000.5")]
    [InlineData("NaN")]
    public async Task A_commit_gather_window_outside_0_to_1000_ms_stops_the_silo_from_starting(string value)
    {
        using var host = BuildSilo(value);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Storage:CommitGatherMilliseconds", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("5")]
    [InlineData("1000")]
    public void A_commit_gather_window_from_0_to_1000_ms_is_accepted(string value)
    {
        using var host = BuildSilo(value);

        var options = host.Services.GetRequiredService<IOptions<TicketStorageOptions>>().Value;

        Assert.Equal(double.Parse(value, CultureInfo.InvariantCulture), options.CommitGatherMilliseconds);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Database=tickets", 32)]
    [InlineData("Host=127.0.0.1;Database=tickets;Max Auto Prepare=0", 0)]
    [InlineData("Host=127.0.0.1;Database=tickets;maxautoprepare=5", 5)]
    public async Task Shard_databases_on_postgres_prepare_statements_unless_the_connection_string_says_otherwise(string configured, int expected)
    {
        await using var databases = new ShardDatabases(
            Options.Create(new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = configured }),
            SaleMetrics.Detached(), NullLoggerFactory.Instance);

        var shard = new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(3));

        Assert.Equal(expected, shard.MaxAutoPrepare);
        Assert.Equal("tickets_shard_0003", shard.Database);
    }

    private static IHost BuildSilo(string gatherMilliseconds)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:CommitGatherMilliseconds"] = gatherMilliseconds,
            ["Storage:DataPath"] = Path.Combine(Path.GetTempPath(), "orleans-tickets-options-" + Guid.NewGuid().ToString("N")),
        });
        builder.UseOrleans(silo => silo.UseLocalhostClustering().AddTicketing(builder.Configuration));
        return builder.Build();
    }
}
