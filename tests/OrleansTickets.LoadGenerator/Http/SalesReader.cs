using System.Diagnostics;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>Reads <c>/sales</c> for a verification, from the first address that answers (see <see cref="FirstAnswer"/>).</summary>
public static class SalesReader
{
    /// <summary>The pause between rounds over the addresses.</summary>
    public static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a report whose shards cannot all give their own count is asked for again, at most: one that stays down
    /// must leave the caller's time limit enough for its other reads (the audit's databases and export).
    /// </summary>
    public static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The report from the first of <paramref name="urls"/> that answers, through clients of its own: a check after
    /// the sale, by a run that sold nothing itself (after a chaos run some processes are gone).
    /// </summary>
    public static async Task<SalesSnapshot?> ReadAsync(IReadOnlyList<Uri> urls, bool http2, string eventId, CancellationToken cancellation)
    {
        var clients = urls.Select(url => PooledHttpClient.Create(url, 1, http2)).ToList();
        using var disposeClients = new CompositeDisposable(clients);
        return await ReadAsync(clients.Select(http => new TicketingApiClient(http)).ToList(), eventId, RetryPause, cancellation);
    }

    /// <summary>
    /// The report once every shard in it gave its own count, or null once <paramref name="cancellation"/> fires before any
    /// report came or an address answers with anything but 200 or 503.
    /// </summary>
    /// <remarks>
    /// A shard that cannot read its database just then (its pooled connections died with a database restart, say)
    /// reports "unavailable", with its last numbers or a guess, and tries again a second later; the sales page shows
    /// that, and a check would compare the guess. So such a report is asked for again, for up to
    /// <paramref name="settleLimit"/> (<see cref="SettleLimit"/> unless given) or until the time is over; then the last
    /// one is returned, and the checks say what it says.
    /// </remarks>
    public static async Task<SalesSnapshot?> ReadAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, TimeSpan retryPause, CancellationToken cancellation, TimeSpan? settleLimit = null)
    {
        SalesSnapshot? last = null;
        var settlingSince = 0L;
        while (true)
        {
            var sales = await FirstAnswer.AskAsync(apis, (api, token) => api.GetSalesAsync(eventId, token), $"the sales of '{eventId}'",
                retryPause, cancellation);
            if (sales is null) return last;
            var waiting = sales.TicketTypes.Sum(type => type.Uncounted);
            if (waiting == 0) return sales;
            if (last is null) settlingSince = Stopwatch.GetTimestamp();
            else if (Stopwatch.GetElapsedTime(settlingSince) >= (settleLimit ?? SettleLimit)) return sales;
            last = sales;
            Console.Error.WriteLine($"the sales of '{eventId}': {waiting} shards (or types) cannot give their own count yet; asking again");
            try
            {
                await Task.Delay(retryPause, cancellation);
            }
            catch (OperationCanceledException)
            {
                return last;
            }
        }
    }
}
