using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>Sells out an event with virtual buyers, reports the numbers, then checks the sale.</summary>
public static class OrdersRun
{
    private static readonly TimeSpan VerificationTimeout = TimeSpan.FromSeconds(30);

    // The share of the tickets whose sale is reported apart, as the end of the sale.
    private const double TailShare = 0.2;

    /// <summary>The width of one row of <c>--latency-timeline</c>.</summary>
    private static readonly TimeSpan TimelineWindow = TimeSpan.FromMilliseconds(100);

    public static async Task<int> RunAsync(LoadOptions options)
    {
        var clients = PooledHttpClient.CreateForBuyers(options.Urls, options.Connections, options.Http2Connections);
        using var disposeClients = new CompositeDisposable(clients);
        var apis = clients.Select(http => new TicketingApiClient(http)).ToList();
        var api = apis[0];
        using var timeout = new CancellationTokenSource(options.Timeout);

        EventInfo info;
        try
        {
            // A type whose shard cannot say what it holds (its database not read since it started) has no counts: the
            // event is read again for a while, as a sales report is (SalesReader), and never guessed.
            var firstAsked = Stopwatch.GetTimestamp();
            info = await api.GetEventAsync(options.EventId, timeout.Token);
            while (info.TicketTypes.FirstOrDefault(t => !t.Counted) is { } uncounted)
            {
                if (Stopwatch.GetElapsedTime(firstAsked) >= SalesReader.SettleLimit)
                {
                    Console.Error.WriteLine($"event '{options.EventId}' at {options.Url}: the service cannot say what ticket type '{uncounted.Id}' holds (a shard database down?)");
                    return ExitCodes.CouldNotFinish;
                }
                await Task.Delay(SalesReader.RetryPause, timeout.Token);
                info = await api.GetEventAsync(options.EventId, timeout.Token);
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"cannot read event '{options.EventId}' at {options.Url}: {exception.Message}");
            return ExitCodes.CouldNotFinish;
        }
        var demand = TicketTypeDemand.Create(info.TicketTypes, options.Weights);
        WriteHeader(options, info, demand);

        var counters = new LoadCounters();
        var timeline = options.LatencyTimeline is null ? null : new LatencyTimeline();
        var latency = new LatencyRecorder(timeline);
        var purchaseLatency = new LatencyRecorder();
        var soldOutLatency = new LatencyRecorder();
        var ordersPath = $"/api/events/{Uri.EscapeDataString(options.EventId)}/orders";
        var buyers = Enumerable.Range(1, options.Connections)
            .Select(n => new VirtualBuyer(n, ordersPath, apis, demand, options.MaxQuantity, counters, latency, thinkTime: options.ThinkTime,
                purchaseLatency: purchaseLatency, soldOutLatency: soldOutLatency))
            .ToList();

        if (options.WaitingRoom > TimeSpan.Zero)
        {
            var eventPath = $"/api/events/{Uri.EscapeDataString(options.EventId)}";
            var waited = await WaitingRoom.WaitAsync(apis, eventPath, ordersPath, options.Connections, options.WaitingRoom, timeout.Token);
            var answers = string.Join(", ", waited.Select(p => $"{p.Value} × {p.Key}"));
            Console.WriteLine($"waiting room: {options.Connections} buyers, {options.WaitingRoom.TotalSeconds:0} s before the clock started, not counted: {answers}");
        }

        using var stopProgress = new CancellationTokenSource();
        var cpuAtStart = Environment.CpuUsage.TotalTime;
        Func<TimeSpan?> readServiceCpu = () => options.ServicePid is { } pid ? ProcessCpu.Read(pid) : null;
        var serviceCpuAtStart = readServiceCpu();
        Func<TimeSpan?> readDatabaseCpu = () => options.DatabaseUser is { } user ? UserCpu.Read(user) : null;
        var databaseCpuAtStart = readDatabaseCpu();
        var stealAtStart = HypervisorSteal.Read();
        // The clock starts after the readings above (one walks all of /proc), just before the first request.
        var startedAt = Stopwatch.GetTimestamp();
        var progress = new ProgressReporter(counters, startedAt, showsTickets: true).RunAsync(stopProgress.Token);
        // Beside the timeline, the cores the service and the generator kept busy in each of its windows. Readings start
        // with the clock (the first is taken here, about 50 µs before the first request) and end after the last buyer;
        // the sale's totals below are read after them.
        var cpu = timeline is null ? null : new CpuTimeline();
        using var stopSampling = new CancellationTokenSource();
        var sampling = cpu?.SampleAsync(readServiceCpu, TimelineWindow / 2, stopSampling.Token) ?? Task.CompletedTask;
        var onSale = info.TicketTypes.Sum(t => t.Remaining!.Value);
        var tailStarts = MarkTailAsync();
        async Task<SaleMark?> MarkTailAsync()
        {
            var mark = await SaleTailWatch.WaitForAsync(counters, (long)Math.Ceiling(onSale * (1 - TailShare)), startedAt, readServiceCpu, stopProgress.Token);
            if (mark is not null) latency.Mark();
            return mark;
        }
        var timedOut = false;
        try
        {
            await Task.WhenAll(buyers.Select(b => Task.Run(() => b.RunAsync(timeout.Token))));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            timedOut = true;
        }
        if (options.BuyingEndedFile is { } buyingEnded) await BuyingEndedFile.WriteAsync(buyingEnded, DateTimeOffset.UtcNow);
        await stopSampling.CancelAsync();
        await sampling;
        var clientCpu = Environment.CpuUsage.TotalTime - cpuAtStart;
        var serviceCpuAtEnd = readServiceCpu();
        var serviceCpu = serviceCpuAtEnd - serviceCpuAtStart;
        var databaseCpu = readDatabaseCpu() - databaseCpuAtStart;
        var steal = HypervisorSteal.Read() - stealAtStart;
        var window = Stopwatch.GetElapsedTime(startedAt);
        await stopProgress.CancelAsync();
        await progress;
        var tail = await tailStarts is { } mark
            ? SaleTail.Split(TailShare, new SaleMark(0, 0, serviceCpuAtStart), mark, new SaleMark(window.TotalSeconds, counters.Orders, serviceCpuAtEnd))
            : null;
        if (tail is not null)
        {
            tail = tail with { P99Milliseconds = P99(latency.SummarizeAfterMark()), BodyP99Milliseconds = P99(latency.SummarizeBeforeMark()) };
        }

        using (var resolving = new CancellationTokenSource(VerificationTimeout))
        {
            try
            {
                // All buyers at once (over HTTP/1.1, each on its own connection): one after another, a few buyers whose
                // requests each took their full retries used up the budget, and every buyer after them was not asked at all.
                await Task.WhenAll(buyers.Select(buyer => buyer.ResolveAbandonedAsync(resolving.Token)));
            }
            catch (OperationCanceledException) when (resolving.IsCancellationRequested)
            {
                // What is still unanswered stays abandoned, and the check below fails.
            }
        }
        var orders = buyers.SelectMany(b => b.Orders).ToList();
        await AcknowledgedOrdersFile.WriteAsync(options.OrdersFile, orders);
        if (timeline is not null) await File.WriteAllLinesAsync(options.LatencyTimeline!, timeline.Rows(startedAt, TimelineWindow, cpu));
        var offered = options.OfferedWithAdditions(info.TicketTypes.ToDictionary(t => t.Id, t => (int)t.Capacity!.Value, StringComparer.Ordinal));
        var checks = await VerifyAsync(apis, options.EventId, orders, offered);
        if (checks.Count > 0) checks = [.. checks, SaleVerifier.RequestsAnswered(buyers.Sum(b => b.Abandoned), buyers.Sum(b => b.Resolved))];
        var summary = Summarize(options, timedOut, startedAt, buyers, orders, counters, latency, purchaseLatency, soldOutLatency, checks, demand.SoldOutTimes(startedAt), clientCpu, serviceCpu,
            databaseCpu, steal is { } stolen ? new StealShare(stolen.TotalSeconds, stolen / (window * Environment.ProcessorCount)) : null, tail);
        summary.Write(Console.Out);
        Console.WriteLine();
        if (checks.Count > 0) VerificationTable.Write(Console.Out, checks);
        await SummaryJsonFile.WriteAsync(options.SummaryJson, summary, LoadJsonContext.Default.OrdersRunSummary);
        return timedOut || checks.Count == 0 ? ExitCodes.CouldNotFinish : summary.Passed ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }

    private static void WriteHeader(LoadOptions options, EventInfo info, TicketTypeDemand demand)
    {
        Console.WriteLine($"event {info.Id} ({info.Name}) at {options.Url}: {options.Connections} buyers ({options.Transport}), up to {options.MaxQuantity} tickets per order");
        for (var i = 0; i < demand.Types.Count; i++)
        {
            var type = demand.Types[i];
            Console.WriteLine($"  {type.Id,-16} capacity {type.Capacity,9}  remaining {type.Remaining,9}  maxPerOrder {type.MaxPerOrder,3}  weight {demand.WeightOf(i)}");
        }
    }

    private static double? P99(LatencySummary latency) => latency.Count > 0 ? latency.P99 : null;

    /// <summary>The verification rows; none when the sales report cannot be read (the run then fails).</summary>
    private static async Task<IReadOnlyList<VerificationCheck>> VerifyAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, List<AcknowledgedOrder> orders, IReadOnlyDictionary<string, long>? offered)
    {
        using var timeout = new CancellationTokenSource(VerificationTimeout);
        var sales = await SalesReader.ReadAsync(apis, eventId, SalesReader.RetryPause, timeout.Token);
        return sales is null ? [] : SaleVerifier.Verify(orders, sales, offered, everyRequestKnown: true);
    }

    private static OrdersRunSummary Summarize(LoadOptions options, bool timedOut, long startedAt, List<VirtualBuyer> buyers,
        List<AcknowledgedOrder> orders, LoadCounters counters, LatencyRecorder latency, LatencyRecorder purchaseLatency,
        LatencyRecorder soldOutLatency, IReadOnlyList<VerificationCheck> checks,
        IReadOnlyList<TypeSoldOut> soldOut, TimeSpan clientCpu, TimeSpan? serviceCpu, TimeSpan? databaseCpu, StealShare? steal, SaleTail? tail)
    {
        var lastTicket = buyers.Max(b => b.LastAcknowledgedAt);
        var lastResponse = buyers.Max(b => b.LastResponseAt);
        var toLastTicket = lastTicket == 0 ? 0 : Stopwatch.GetElapsedTime(startedAt, lastTicket).TotalSeconds;
        var toLastResponse = lastResponse == 0 ? 0 : Stopwatch.GetElapsedTime(startedAt, lastResponse).TotalSeconds;
        long tickets = orders.Sum(o => (long)o.Tickets.Count);
        return new OrdersRunSummary(
            Url: string.Join(",", options.Urls),
            EventId: options.EventId,
            Connections: options.Connections,
            TimedOut: timedOut,
            TicketsSold: tickets,
            Orders: orders.Count,
            SecondsToLastTicket: toLastTicket,
            SecondsToLastResponse: toLastResponse,
            TicketsPerSecond: toLastTicket > 0 ? tickets / toLastTicket : 0,
            OrdersPerSecond: toLastTicket > 0 ? orders.Count / toLastTicket : 0,
            Requests: counters.Requests,
            Latency: latency.Summarize(),
            PurchaseLatency: purchaseLatency.Summarize(),
            SoldOutLatency: soldOutLatency.Summarize(),
            StatusCounts: counters.StatusCounts(),
            Errors: counters.Errors,
            Retries: counters.Retries,
            Abandoned: buyers.Sum(b => b.Abandoned),
            Passed: !timedOut && checks.Count > 0 && SaleVerifier.AllPassed(checks),
            Checks: checks,
            SoldOut: soldOut,
            ClientCpuSeconds: clientCpu.TotalSeconds,
            ServiceCpuSeconds: serviceCpu?.TotalSeconds,
            DatabaseCpuSeconds: databaseCpu?.TotalSeconds,
            Steal: steal,
            Tail: tail,
            Transport: options.Transport);
    }
}
