using System.Diagnostics;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Prints one progress line a second on stderr, so stdout keeps only the final report.</summary>
public sealed class ProgressReporter(LoadCounters counters, long startedAt, bool showsTickets)
{
    public async Task RunAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long lastTickets = 0, lastRequests = 0;
        var lastAt = startedAt;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                var now = Stopwatch.GetTimestamp();
                var seconds = Math.Max(Stopwatch.GetElapsedTime(lastAt, now).TotalSeconds, 1e-3);
                long tickets = counters.TicketsSold, requests = counters.Requests;
                var elapsed = Stopwatch.GetElapsedTime(startedAt, now).TotalSeconds;
                Console.Error.WriteLine(showsTickets
                    ? $"[{elapsed,6:F1}s] tickets {tickets,9}  {(tickets - lastTickets) / seconds,8:F0} tickets/s  orders {counters.Orders,8}  errors {counters.Errors,5}  retries {counters.Retries,5}"
                    : $"[{elapsed,6:F1}s] requests {requests,9}  {(requests - lastRequests) / seconds,8:F0} req/s  errors {counters.Errors,5}");
                (lastTickets, lastRequests, lastAt) = (tickets, requests, now);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The run is over; nothing more to report.
        }
    }
}
