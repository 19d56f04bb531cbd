using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Reads the whole back-office export of an event, page by page, each from whichever address answers it (see
/// <see cref="FirstAnswer"/>), and walks again, as the README tells the back office to, while the pages hold fewer
/// tickets than the last page says were sold (orders committed during the walk, passed over).
/// </summary>
public static class ExportReader
{
    private const int MaxWalks = 3;

    /// <summary>
    /// Every exported order with the last page's count of tickets sold, or null once <paramref name="cancellation"/>
    /// fires or a page cannot be read.
    /// </summary>
    public static async Task<ExportWalk?> ReadAsync(IReadOnlyList<Uri> urls, bool http2, string eventId, CancellationToken cancellation)
    {
        var clients = urls.Select(url => PooledHttpClient.Create(url, 1, http2)).ToList();
        using var disposeClients = new CompositeDisposable(clients);
        // The export is an operators' call: with a key configured, the service refuses it without one.
        var operatorKey = TicketingApiClient.OperatorKeyFromEnvironment();
        var apis = clients.Select(http => new TicketingApiClient(http, operatorKey)).ToList();
        for (var walk = 1; ; walk++)
        {
            if (await WalkAsync(apis, eventId, cancellation) is not var (orders, sold)) return null;
            var tickets = orders.Sum(o => (long)o.Tickets.Count);
            if (sold == tickets || walk == MaxWalks)
            {
                // Left to the audit's comparisons with the databases, which name what differs.
                if (sold != tickets) Console.Error.WriteLine($"the export's pages hold {tickets} tickets; its last page says {sold?.ToString() ?? "nothing"} were sold");
                return new ExportWalk(orders, sold);
            }
        }
    }

    private static async Task<(List<AcknowledgedOrder> Orders, long? TicketsSold)?> WalkAsync(
        List<TicketingApiClient> apis, string eventId, CancellationToken cancellation)
    {
        var orders = new List<AcknowledgedOrder>();
        string? after = null;
        while (true)
        {
            var page = await FirstAnswer.AskAsync(apis, (api, token) => api.GetExportPageAsync(eventId, after, token),
                $"the export of '{eventId}'", SalesReader.RetryPause, cancellation);
            if (page is null) return null;
            orders.AddRange(page.Orders);
            if (page.Next is null) return (orders, page.TicketsSold);
            after = page.Next;
        }
    }
}
