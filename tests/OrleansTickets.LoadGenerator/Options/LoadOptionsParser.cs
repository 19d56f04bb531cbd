using System.Globalization;

namespace OrleansTickets.LoadGenerator.Options;

/// <summary>Parses <c>--name value</c> pairs. Hand-written so the tool has no dependency beyond the histogram.</summary>
public static class LoadOptionsParser
{
    public const string Usage = """
        usage: OrleansTickets.LoadGenerator [--name value]...

          --url URL[,URL...]    base address(es); buyers spread over them and move on when one fails (default http://127.0.0.1:5080)
          --mode orders|bare|audit|verify  buy an event until sold out, hit a bare endpoint, audit a sale, or check a
                                sale another client made (default orders)
          --connections N       concurrent virtual buyers = in-flight requests (default 256)
          --summary-json FILE   also write the final numbers as JSON
          --http2-connections N speak HTTP/2 (over http://, without asking first) on N connections per address, which
                                the buyers share as streams, as behind a gateway that multiplexes them onto HTTP/2;
                                a connection whose streams reach the server's limit (100 in Kestrel) gets a second one.
                                The service needs an endpoint for it (README) (default 0: HTTP/1.1, a connection per buyer)
          --service-pid PID     also report the CPU time process PID (the service, or the bare endpoint, on this
                                machine) used over the measured span

        orders mode:
          --event ID            event to buy                               (default festival)
          --weights a=60,b=5    demand per ticket type, every type listed  (default: each type's capacity)
          --max-quantity N      tickets per order: uniform 1..min(N, maxPerOrder) (default 4)
          --timeout SECONDS     give up and exit non-zero after this long  (default 120)
          --orders-file FILE    also write every acknowledged order to FILE (JSON), for audit mode
          --waiting-room S      before the clock starts, buyers wait on the event page for S seconds: they load it
                                and try a ticket type that is not on sale yet (404), not counted (default 0)
          --database-user USER  also report the CPU time USER's processes (a database server, on this machine) used during the sale
          --offered a=100,b=5   the tickets of each type put on sale, checked against the service's final capacity
                                (default: each type's capacity read before the sale)
          --added a=10          tickets an operator adds to a type during the sale, on top of what was offered
          --think-time MS       each buyer pauses this long after each order it gets, so the sale cannot go faster than
                                connections / think time orders a second, however fast the machine (default 0)
          --latency-timeline FILE  also write the sale's responses per 100 ms of arrival (count, p50, p99, max) as CSV,
                                with the cores the service (--service-pid) and the generator kept busy in each
          --buying-ended-file FILE  write the moment the buyers stopped (every type sold out, or the timeout) to FILE,
                                in microseconds since the Unix epoch, before the run asks again about unanswered orders
                                and checks the sale: a script firing faults beside it can tell the sale from what follows

        bare mode:
          --path PATH           target of the POSTs                        (default /bare/orders)
          --duration SECONDS    how long to run                            (default 5)
          --warm-up SECONDS     post for this long first, not counted, so the measured seconds find both processes'
                                code compiled, as a rehearsed service's sale does (default 0)

        audit mode (the shard databases themselves; one of --postgres and --sqlite-data):
          --event ID            the event that was sold                    (default festival)
          --orders-file FILE    the acknowledged orders an orders run wrote
          --postgres CONN       the catalog connection string; shard databases are CONN's database + _shard_NNNN
          --sqlite-data DIR     the service's Storage:DataPath; shard databases are DIR/shards/shard_NNNN.db
          --offered a=100,b=5   the tickets of each type put on sale, checked against the capacity the ledger holds
                                (without it, the ledger is checked against /sales alone)
          --added a=10          tickets an operator added to a type during the sale

        verify mode (a sale made by another client, e.g. scripts/wrk/sellout.lua):
          --event ID            the event that was sold                    (default festival)
          --orders-file FILE    its acknowledged orders: a JSON array, or one response body per line
          --offered a=100,b=5   the tickets of each type put on sale (required: the service's own counts alone could
                                agree with bodies of a sale smaller than the one offered)
          --added a=10          tickets an operator added to a type during the sale

        exit codes: 0 all checks passed, 1 a check failed, 2 bad usage, 3 the run could not finish
        """;

    /// <summary>The options, or a <see cref="UsageException"/> naming the first problem.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var values = ReadPairs(args);
        var options = new LoadOptions(
            Urls: [.. (Take(values, "url") ?? "http://127.0.0.1:5080").Split(',').Select(ParseUrl)],
            Mode: ParseMode(Take(values, "mode") ?? "orders"),
            EventId: Take(values, "event") ?? "festival",
            Connections: ParseInt(values, "connections", 256, min: 1, max: 100_000),
            Weights: Take(values, "weights") is { } weights ? ParseCounts("weights", weights, min: 1) : null,
            MaxQuantity: ParseInt(values, "max-quantity", 4, min: 1, max: 100),
            Duration: TimeSpan.FromSeconds(ParseInt(values, "duration", 5, min: 1, max: 86_400)),
            Path: ParsePath(Take(values, "path") ?? "/bare/orders"),
            Timeout: TimeSpan.FromSeconds(ParseInt(values, "timeout", 120, min: 1, max: 86_400)),
            SummaryJson: Take(values, "summary-json"),
            OrdersFile: Take(values, "orders-file"),
            Postgres: Take(values, "postgres"),
            SqliteData: Take(values, "sqlite-data"),
            WaitingRoom: TimeSpan.FromSeconds(ParseInt(values, "waiting-room", 0, min: 0, max: 600)),
            WarmUp: TimeSpan.FromSeconds(ParseInt(values, "warm-up", 0, min: 0, max: 600)),
            ServicePid: values.ContainsKey("service-pid") ? ParseInt(values, "service-pid", 0, min: 1, max: int.MaxValue) : null,
            DatabaseUser: Take(values, "database-user"),
            Offered: Take(values, "offered") is { } offered ? ParseCounts("offered", offered, min: 0) : null,
            Added: Take(values, "added") is { } added ? ParseCounts("added", added, min: 1) : null,
            ThinkTime: TimeSpan.FromMilliseconds(ParseInt(values, "think-time", 0, min: 0, max: 60_000)),
            LatencyTimeline: Take(values, "latency-timeline"),
            Http2Connections: ParseInt(values, "http2-connections", 0, min: 0, max: 100_000),
            BuyingEndedFile: Take(values, "buying-ended-file"));
        if (values.Count > 0) throw new UsageException($"unknown option --{values.Keys.First()}");
        // The wait counts against the run's timeout, which must leave time for the sale.
        if (options.WaitingRoom >= options.Timeout) throw new UsageException("--waiting-room must be shorter than --timeout");
        if (options.WarmUp > TimeSpan.Zero && options.Mode != LoadMode.Bare) throw new UsageException("--warm-up is for bare mode");
        if (options.Mode == LoadMode.Audit && (options.OrdersFile is null || (options.Postgres is null) == (options.SqliteData is null)))
        {
            throw new UsageException("audit mode needs --orders-file, and either --postgres or --sqlite-data");
        }
        if (options.Mode != LoadMode.Audit && (options.Postgres ?? options.SqliteData) is not null)
        {
            throw new UsageException("--postgres and --sqlite-data are for audit mode");
        }
        if (options.Mode == LoadMode.Verify && (options.OrdersFile is null || options.Offered is null))
        {
            throw new UsageException("verify mode needs --orders-file and --offered");
        }
        // Orders mode adds to the capacities it reads before the sale; the checks of a finished sale have nothing to add to.
        if (options.Added is not null && options.Offered is null && options.Mode == LoadMode.Audit)
        {
            throw new UsageException("--added needs --offered in audit mode");
        }
        if (options.Http2Connections > options.Connections)
        {
            throw new UsageException("--http2-connections cannot exceed --connections: every connection needs a buyer");
        }
        if (options.LatencyTimeline is not null && options.Mode != LoadMode.Orders) throw new UsageException("--latency-timeline is for orders mode");
        if (options.BuyingEndedFile is not null && options.Mode != LoadMode.Orders) throw new UsageException("--buying-ended-file is for orders mode");
        return options;
    }

    private static Dictionary<string, string> ReadPairs(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i].Length == 2)
            {
                throw new UsageException($"expected --name, got '{args[i]}'");
            }
            var name = args[i][2..];
            if (i + 1 >= args.Count) throw new UsageException($"--{name} needs a value");
            if (!values.TryAdd(name, args[i + 1])) throw new UsageException($"--{name} given twice");
        }
        return values;
    }

    // Removing each known option as it is read leaves exactly the unknown ones behind.
    private static string? Take(Dictionary<string, string> values, string name) =>
        values.Remove(name, out var value) ? value : null;

    private static Uri ParseUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
            ? url
            : throw new UsageException($"--url must be an absolute http(s) address, got '{text}'");

    private static LoadMode ParseMode(string text) => text switch
    {
        "orders" => LoadMode.Orders,
        "bare" => LoadMode.Bare,
        "audit" => LoadMode.Audit,
        "verify" => LoadMode.Verify,
        _ => throw new UsageException($"--mode must be orders, bare, audit or verify, got '{text}'"),
    };

    private static string ParsePath(string text) =>
        text.StartsWith('/') ? text : throw new UsageException($"--path must start with '/', got '{text}'");

    private static int ParseInt(Dictionary<string, string> values, string name, int fallback, int min, int max)
    {
        if (Take(values, name) is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min} to {max}, got '{text}'");
        }
        return value;
    }

    /// <summary>Reads <c>id=count</c> pairs separated by commas, each count at least <paramref name="min"/>.</summary>
    private static Dictionary<string, int> ParseCounts(string name, string text, int min)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < min)
            {
                throw new UsageException($"--{name} wants id={(min > 0 ? "positive-number" : "number")} pairs separated by commas, got '{pair}'");
            }
            if (!counts.TryAdd(parts[0], count)) throw new UsageException($"--{name} names '{parts[0]}' twice");
        }
        return counts.Count > 0 ? counts : throw new UsageException($"--{name} is empty");
    }
}
