using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// Buyers on the event page before the on-sale opens: each reloads the page and tries a ticket type that is not on
/// sale, until the doors open. Nothing is bought and nothing is counted in the sale's numbers. The code that reads a
/// sale's answers runs once on samples first (<see cref="AnswerHandlingWarmUp"/>).
/// </summary>
/// <remarks>
/// A real crowd arrives with its browsers' connections open and warm. A load generator that starts at the clock
/// instead spends the sale's first seconds opening connections and JIT-compiling its own request path, on the
/// cores the service needs (docs/benchmarks.md, eighth session).
/// </remarks>
public static class WaitingRoom
{
    /// <summary>A ticket type id no event has: the service answers 404 and sells nothing.</summary>
    public const string NotOnSaleType = "not-on-sale-yet";

    /// <summary>
    /// Keeps <paramref name="buyers"/> buyers waiting for <paramref name="duration"/>, each for one round at least;
    /// returns how many answers of each status code they got (<c>"none"</c>: no answer). A failed request does not end
    /// the wait: the sale's own checks report a service that is not there.
    /// </summary>
    public static async Task<SortedDictionary<string, long>> WaitAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventPath, string ordersPath, int buyers, TimeSpan duration, CancellationToken cancellation)
    {
        await AnswerHandlingWarmUp.RunAsync();
        var answers = new LoadCounters();
        var doorsOpen = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(1, buyers).Select(n => Task.Run(async () =>
        {
            var api = apis[n % apis.Count];
            // Each buyer makes one round at least, however late its task started: the wait exists to open and warm every
            // buyer's connection, and on a busy machine a task can start after a short wait has ended (a CI run's 1 s).
            do
            {
                var page = await api.GetForStatusAsync(eventPath, cancellation);
                answers.RecordResponse(page);
                // The buyers' own request method, so that it is compiled before the clock starts.
                var order = (await api.PostOrderAsync(ordersPath, Http.PreparedOrder.Create(NotOnSaleType, 1, n), cancellation)).StatusCode;
                answers.RecordResponse(order);
                if (page == 0 || order == 0) await Task.Delay(TimeSpan.FromMilliseconds(50), cancellation);
            }
            while (Stopwatch.GetTimestamp() < doorsOpen);
        }, cancellation)));
        return answers.StatusCounts();
    }
}
