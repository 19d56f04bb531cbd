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

namespace OrleansTickets.Tests.Storage;

/// <summary>Settings that would break the commit path or the ticket codes are refused when the silo starts.</summary>
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
    // With no order allowed per commit, each database writer would take nothing off its queue, forever.
    [InlineData("Storage:MaxOrdersPerCommit", "0")]
    [InlineData("Storage:MaxOrdersPerCommit", "-3")]
    // A pool of no connections fails every open; the rehearsal only logs that, and the silo would open to sell nothing.
    [InlineData("Storage:MaxConnectionsPerDatabase", "0")]
    [InlineData("Storage:MaxConnectionsPerDatabase", "-1")]
    [InlineData("Storage:MaxShardDatabases", "0")]
    // A negative wait for a lookup connection throws on every order page; one past a minute holds buyers' pages for it.
    [InlineData("Storage:LookupWaitMilliseconds", "-1")]
    [InlineData("Storage:LookupWaitMilliseconds", "60001")]
    // 0 would mean no checkpoint at all, and the log would grow until the disk filled.
    [InlineData("Storage:SqliteCheckpointPages", "0")]
    [InlineData("Storage:SqliteCheckpointPages", "1000001")]
    // A bad key would otherwise be read first by a shard: a silo that listens and fails every purchase.
    [InlineData("Tickets:SigningKey", "not base64!")]
    [InlineData("Tickets:SigningKey", "c2hvcnQ=")]
    public async Task A_setting_that_would_leave_the_silo_unable_to_sell_stops_it_from_starting(string setting, string value)
    {
        using var host = BuildSilo("5", new() { [setting] = value });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(setting, error.Message);
    }

    [Theory]
    // 49 bytes + "_shard_0003" is 60: fits. 53 + 11 is 64: PostgreSQL would keep "..._shard_000" for databases 0 to 9.
    [InlineData(49, "4", true)]
    [InlineData(53, "4", false)]
    // 52 bytes fit with 4 databases (52 + 11 = 63), not with 10,001, whose last is "_shard_10000" (64).
    [InlineData(52, "4", true)]
    [InlineData(52, "10001", false)]
    public async Task A_postgres_database_name_too_long_for_its_shard_databases_names_stops_the_silo_from_starting(
        int nameBytes, string databases, bool fits)
    {
        // Nothing is connected to: the settings are refused, or accepted, before any database is opened.
        var connectionString = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Database = new string('d', nameBytes) }.ConnectionString;
        var options = new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = connectionString, MaxShardDatabases = int.Parse(databases, CultureInfo.InvariantCulture) };
        Assert.Equal(fits, ShardDatabases.TooLongServerName(options) is null);

        using var host = BuildSilo("5", new()
        {
            ["Storage:Provider"] = "PostgreSql",
            ["Storage:ConnectionString"] = connectionString,
            ["Storage:MaxShardDatabases"] = databases,
        });
        if (fits)
        {
            // The silo's own validation takes the name (its start would go on to connect, which is not this test's).
            var validated = host.Services.GetRequiredService<IOptions<TicketStorageOptions>>().Value;
            Assert.Equal(int.Parse(databases, CultureInfo.InvariantCulture), validated.MaxShardDatabases);
            return;
        }
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("PostgreSQL keeps 63 bytes", error.Message);
    }

    [Fact]
    public async Task An_unreadable_signing_key_file_stops_the_silo_from_starting()
    {
        var dataPath = Path.Combine(Path.GetTempPath(), "orleans-tickets-options-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataPath);
        await File.WriteAllTextAsync(Path.Combine(dataPath, "ticket-signing.key"), "garbage");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path.Combine(dataPath, "ticket-signing.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            using var host = BuildSilo("5", new() { ["Storage:DataPath"] = dataPath });

            var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

            // Without the check the silo started, and the key was first read by a shard, failing each purchase.
            Assert.Contains("ticket-signing.key", error.ToString());
            Assert.Contains("does not hold", error.ToString());
        }
        finally
        {
            Directory.Delete(dataPath, recursive: true);
        }
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

    [Theory]
    [InlineData("Host=127.0.0.1;Database=tickets", true)]
    [InlineData("Host=127.0.0.1;Database=tickets;No Reset On Close=false", false)]
    public async Task Shard_databases_on_postgres_skip_the_session_reset_unless_the_connection_string_says_otherwise(string configured, bool expected)
    {
        await using var databases = new ShardDatabases(
            Options.Create(new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = configured }),
            SaleMetrics.Detached(), NullLoggerFactory.Instance);

        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(3)).NoResetOnClose);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Database=tickets", "OrleansTickets shard writer")]
    [InlineData("Host=127.0.0.1;Database=tickets;Application Name=box-office", "box-office shard writer")]
    // PostgreSQL keeps 63 bytes of it: a long name gives way to the suffix operators look for.
    [InlineData("Host=127.0.0.1;Database=tickets;Application Name=the-box-office-of-the-festival-on-sale-in-the-north-region",
        "the-box-office-of-the-festival-on-sale-in-the-nort shard writer")]
    // Shortened by whole characters: cut by UTF-16 units, this kept half of the ticket emoji's surrogate pair.
    [InlineData("Host=127.0.0.1;Database=tickets;Application Name=box-office-of-the-festival-on-sale-in-the-north\U0001F3ABx",
        "box-office-of-the-festival-on-sale-in-the-north shard writer")]
    public async Task A_shard_database_s_writer_has_a_pool_of_one_connection_named_for_operators(string configured, string name)
    {
        await using var databases = new ShardDatabases(
            Options.Create(new TicketStorageOptions { Provider = SqlDialect.PostgreSql, ConnectionString = configured }),
            SaleMetrics.Detached(), NullLoggerFactory.Instance);

        var writer = new NpgsqlConnectionStringBuilder(databases.WriterConnectionStringFor(3));

        Assert.Equal(1, writer.MaxPoolSize);
        Assert.Equal(1, writer.MinPoolSize);
        Assert.Equal(name, writer.ApplicationName);
        Assert.Equal("tickets_shard_0003", writer.Database);
        Assert.Equal(8, new NpgsqlConnectionStringBuilder(databases.ConnectionStringFor(3)).MaxPoolSize);
        Assert.Equal("-c idle_in_transaction_session_timeout=10s", writer.Options);
    }

    private static IHost BuildSilo(string gatherMilliseconds, Dictionary<string, string?>? more = null)
    {
        var builder = Host.CreateApplicationBuilder();
        var settings = new Dictionary<string, string?>
        {
            ["Storage:CommitGatherMilliseconds"] = gatherMilliseconds,
            ["Storage:DataPath"] = Path.Combine(Path.GetTempPath(), "orleans-tickets-options-" + Guid.NewGuid().ToString("N")),
        };
        foreach (var (name, value) in more ?? []) settings[name] = value;
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo => silo.UseLocalhostClustering().AddTicketing(builder.Configuration));
        return builder.Build();
    }
}
