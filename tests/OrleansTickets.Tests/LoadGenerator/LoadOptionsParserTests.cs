using System.Net;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The load generator's options for the time before and around the sale.</summary>
public sealed class LoadOptionsParserTests
{
    [Fact]
    public void Without_the_options_there_is_no_waiting_room_and_no_service_cpu()
    {
        var options = LoadOptionsParser.Parse([]);
        Assert.Equal(TimeSpan.Zero, options.WaitingRoom);
        Assert.Equal(TimeSpan.Zero, options.WarmUp);
        Assert.Null(options.ServicePid);
    }

    [Fact]
    public void A_bare_run_reads_its_warm_up_apart_from_its_measured_duration()
    {
        var options = LoadOptionsParser.Parse(["--mode", "bare", "--warm-up", "10", "--duration", "15"]);
        Assert.Equal((TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15)), (options.WarmUp, options.Duration));
    }

    [Fact]
    public void A_waiting_room_and_a_service_pid_are_read()
    {
        var options = LoadOptionsParser.Parse(["--waiting-room", "3", "--service-pid", "4242"]);
        Assert.Equal(TimeSpan.FromSeconds(3), options.WaitingRoom);
        Assert.Equal(4242, options.ServicePid);
    }

    [Theory]
    [InlineData("--waiting-room", "-1")]
    [InlineData("--waiting-room", "soon")]
    [InlineData("--service-pid", "0")]
    [InlineData("--warm-up", "-5")]
    [InlineData("--warm-up", "601")]
    [InlineData("--offered", "ga=-1")]
    [InlineData("--offered", "ga")]
    [InlineData("--added", "vip=0")]
    [InlineData("--added", "vip=1,vip=2")]
    public void Bad_values_are_refused(string name, string value) =>
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse([name, value]));

    [Fact]
    public void Buyers_speak_http11_unless_told_how_many_http2_connections_to_share()
    {
        Assert.Equal((0, LoadOptions.Http11Transport), (LoadOptionsParser.Parse([]).Http2Connections, LoadOptionsParser.Parse([]).Transport));
        var options = LoadOptionsParser.Parse(["--connections", "256", "--http2-connections", "16"]);
        Assert.Equal(16, options.Http2Connections);
        Assert.StartsWith("HTTP/2, 16 connections", options.Transport);
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--connections", "8", "--http2-connections", "9"]));
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--http2-connections", "-1"]));
    }

    [Fact]
    public void Http2_buyers_get_one_single_connection_client_per_connection_going_round_the_addresses_first()
    {
        Uri[] urls = [new("http://127.0.0.1:5080"), new("http://127.0.0.1:5090")];

        var http11 = PooledHttpClient.CreateForBuyers(urls, buyers: 256, http2Connections: 0);
        var http2 = PooledHttpClient.CreateForBuyers(urls, buyers: 256, http2Connections: 3);

        Assert.Equal(urls, http11.Select(c => c.BaseAddress));
        Assert.All(http11, c => Assert.Equal(HttpVersion.Version11, c.DefaultRequestVersion));
        // A buyer that moves on to the next client after a failure moves to the other address.
        Assert.Equal([urls[0], urls[1], urls[0], urls[1], urls[0], urls[1]], http2.Select(c => c.BaseAddress));
        Assert.All(http2, c => Assert.Equal((HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact), (c.DefaultRequestVersion, c.DefaultVersionPolicy)));
        foreach (var client in http11.Concat(http2)) client.Dispose();
    }

    [Fact]
    public void A_warm_up_outside_bare_mode_is_refused() =>
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--warm-up", "10"]));

    [Fact]
    public void A_waiting_room_as_long_as_the_timeout_is_refused() =>
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--waiting-room", "60", "--timeout", "60"]));

    [Fact]
    public void Verify_mode_reads_the_orders_file_and_what_was_offered_and_refuses_to_run_without_either()
    {
        var options = LoadOptionsParser.Parse(["--mode", "verify", "--orders-file", "orders.jsonl", "--offered", "ga=3"]);
        Assert.Equal((LoadMode.Verify, "orders.jsonl"), (options.Mode, options.OrdersFile));
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "verify", "--offered", "ga=3"]));
        // Without what was offered, a sale smaller than the one offered could pass: /sales and the bodies would agree.
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "verify", "--orders-file", "orders.jsonl"]));
    }

    [Fact]
    public void Audit_and_verify_modes_take_additions_only_on_top_of_what_was_offered()
    {
        var audit = LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json", "--sqlite-data", "data", "--offered", "ga=10,vip=2", "--added", "vip=3"]);
        Assert.Equal(new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 5 }, audit.OfferedWithAdditions());
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json", "--sqlite-data", "data", "--added", "vip=3"]));
        var verify = LoadOptionsParser.Parse(["--mode", "verify", "--orders-file", "o.json", "--offered", "ga=10,vip=2", "--added", "vip=3"]);
        Assert.Equal(new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 5 }, verify.OfferedWithAdditions());
        // Orders mode adds to the capacities it reads before the sale.
        Assert.NotNull(LoadOptionsParser.Parse(["--added", "vip=3"]).Added);
    }

    [Fact]
    public void Audit_mode_reads_exactly_one_kind_of_ledger()
    {
        var sqlite = LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json", "--sqlite-data", "data"]);
        Assert.Equal(("data", (string?)null), (sqlite.SqliteData, sqlite.Postgres));
        var postgres = LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json", "--postgres", "Host=x"]);
        Assert.Equal(("Host=x", (string?)null), (postgres.Postgres, postgres.SqliteData));

        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json"]));
        Assert.Throws<UsageException>(() =>
            LoadOptionsParser.Parse(["--mode", "audit", "--orders-file", "o.json", "--postgres", "Host=x", "--sqlite-data", "data"]));
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "audit", "--sqlite-data", "data"]));
        // An orders run does not read the databases: a ledger given to it would be silently unchecked.
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--sqlite-data", "data"]));
    }

    [Fact]
    public void What_was_offered_comes_from_the_option_or_else_from_the_event_read_before_the_sale_and_additions_count_on_top()
    {
        var readBeforeSale = new Dictionary<string, int> { ["ga"] = 7, ["vip"] = 3 };

        var given = LoadOptionsParser.Parse(["--offered", "ga=10,vip=4", "--added", "vip=2"]);
        Assert.Equal(new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 6 }, given.OfferedWithAdditions(readBeforeSale));

        var read = LoadOptionsParser.Parse(["--added", "vip=2"]);
        Assert.Equal(new Dictionary<string, long> { ["ga"] = 7, ["vip"] = 5 }, read.OfferedWithAdditions(readBeforeSale));
        Assert.Null(read.OfferedWithAdditions());
    }
}
