using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>Reads <c>/sales</c> for a verification, from the first address that answers (see <see cref="FirstAnswer"/>).</summary>
public static class SalesReader
{
    /// <summary>The pause between rounds over the addresses.</summary>
    public static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The report from the first of <paramref name="urls"/> that answers, through clients of its own: a check after
    /// the sale, by a run that sold nothing itself (after a chaos run some processes are gone).
    /// </summary>
    public static async Task<SalesSnapshot?> ReadAsync(IReadOnlyList<Uri> urls, string eventId, CancellationToken cancellation)
    {
        var clients = urls.Select(url => PooledHttpClient.Create(url, 1)).ToList();
        using var disposeClients = new CompositeDisposable(clients);
        return await ReadAsync(clients.Select(http => new TicketingApiClient(http)).ToList(), eventId, RetryPause, cancellation);
    }

    /// <summary>The report, or null once <paramref name="cancellation"/> fires or an address answers with anything but 200 or 503.</summary>
    public static Task<SalesSnapshot?> ReadAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, TimeSpan retryPause, CancellationToken cancellation)
        => FirstAnswer.AskAsync(apis, (api, token) => api.GetSalesAsync(eventId, token), $"the sales of '{eventId}'", retryPause, cancellation);
}
