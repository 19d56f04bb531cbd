using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.LoadGenerator.Bare;

/// <summary>
/// Posts realistic order bodies at one path for a fixed time. Against an endpoint that does no work it measures the
/// HTTP floor (client, sockets, Kestrel) that the real purchase path is compared with.
/// </summary>
public static class BareRun
{
    private const string TicketTypeId = "ga";

    public static async Task<int> RunAsync(LoadOptions options)
    {
        var clients = PooledHttpClient.CreateForBuyers([options.Url], options.Connections, options.Http2Connections);
        using var disposeClients = new CompositeDisposable(clients);
        var apis = clients.Select(http => new TicketingApiClient(http)).ToList();
        var counters = new LoadCounters();
        var latency = new LatencyRecorder();
        Console.WriteLine($"bare: POST {options.Url.GetLeftPart(UriPartial.Authority)}{options.Path} from {options.Connections} buyers ({options.Transport}) for {options.Duration.TotalSeconds:F0} s");
        // Every buyer posts until the deadline. Loops stop starting requests then instead of cancelling them, so
        // none is cut off and miscounted.
        Task PostUntil(long deadline, LoadCounters tally, LatencyRecorder latencies) =>
            Task.WhenAll(Enumerable.Range(1, options.Connections).Select(n => Task.Run(() =>
                LoopAsync(n, options, apis[n % apis.Count], tally, latencies, deadline))));

        if (options.WarmUp > TimeSpan.Zero)
        {
            // The same loops, counted apart and thrown away: the measured run starts on warm connections and code.
            var warmUp = new LoadCounters();
            await PostUntil(Stopwatch.GetTimestamp() + (long)(options.WarmUp.TotalSeconds * Stopwatch.Frequency), warmUp, new LatencyRecorder());
            Console.WriteLine($"warm-up: {warmUp.Requests} requests in {options.WarmUp.TotalSeconds:F0} s, not counted");
        }

        using var stopProgress = new CancellationTokenSource();
        var startedAt = Stopwatch.GetTimestamp();
        // Both processes' CPU over exactly the measured span: what one request costs the endpoint and the client is
        // the part of an order's cost that is plain HTTP, which the service's CPU per order can be set against.
        var clientCpuAtStart = Environment.CpuUsage.TotalTime;
        Func<TimeSpan?> readServerCpu = () => options.ServicePid is { } pid ? ProcessCpu.Read(pid) : null;
        var serverCpuAtStart = readServerCpu();
        var progress = new ProgressReporter(counters, startedAt, showsTickets: false).RunAsync(stopProgress.Token);
        await PostUntil(startedAt + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency), counters, latency);
        var seconds = Stopwatch.GetElapsedTime(startedAt).TotalSeconds;
        var clientCpu = Environment.CpuUsage.TotalTime - clientCpuAtStart;
        var serverCpu = readServerCpu() - serverCpuAtStart;
        await stopProgress.CancelAsync();
        await progress;

        var statuses = counters.StatusCounts();
        var summary = new BareRunSummary(
            Url: options.Url.ToString(),
            Path: options.Path,
            Connections: options.Connections,
            Seconds: seconds,
            Requests: counters.Requests,
            RequestsPerSecond: counters.Requests / seconds,
            Latency: latency.Summarize(),
            StatusCounts: statuses,
            Errors: statuses.Where(p => !p.Key.StartsWith('2')).Sum(p => p.Value),
            ClientCpuSeconds: clientCpu.TotalSeconds,
            ServerCpuSeconds: serverCpu?.TotalSeconds,
            Transport: options.Transport);
        summary.Write(Console.Out);
        await SummaryJsonFile.WriteAsync(options.SummaryJson, summary, LoadJsonContext.Default.BareRunSummary);
        return summary.Requests > 0 && summary.Errors == 0 ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }

    private static async Task LoopAsync(int number, LoadOptions options, TicketingApiClient api, LoadCounters counters,
        LatencyRecorder latency, long deadline)
    {
        var random = new Random();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var order = PreparedOrder.Create(TicketTypeId, random.Next(1, options.MaxQuantity + 1), number);
            var (status, elapsed) = await api.PostForStatusAsync(options.Path, order, CancellationToken.None);
            counters.RecordResponse(status);
            latency.Record(elapsed);
            if (status is < 200 or >= 300) counters.RecordError();
        }
    }
}
