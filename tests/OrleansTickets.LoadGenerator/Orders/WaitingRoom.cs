using System.Diagnostics;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// Buyers on the event page before the on-sale opens: each reloads the page and tries a ticket type that is not on
/// sale, until the doors open. Nothing is bought and nothing is counted in the sale's numbers.
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

    /// <summary>Keeps <paramref name="buyers"/> buyers waiting for <paramref name="duration"/>; returns the requests they made.</summary>
    public static async Task<long> WaitAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, string ordersPath, int buyers, TimeSpan duration, CancellationToken cancellation)
    {
        long requests = 0;
        var doorsOpen = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(1, buyers).Select(n => Task.Run(async () =>
        {
            var api = apis[n % apis.Count];
            while (Stopwatch.GetTimestamp() < doorsOpen)
            {
                await api.GetEventAsync(eventId, cancellation);
                await api.PostForStatusAsync(ordersPath, Http.PreparedOrder.Create(NotOnSaleType, 1, n), cancellation);
                Interlocked.Add(ref requests, 2);
            }
        }, cancellation)));
        return requests;
    }
}
