using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Reads the whole back-office export of an event, page by page, each from whichever address answers it (see
/// <see cref="FirstAnswer"/>), and resumes from where the walk ended, as the README tells the back office to, while the
/// pages hold fewer tickets than the last page says were sold (orders committed behind a transaction still running).
/// </summary>
public static class ExportReader
{
    private const int MaxWalks = 5;

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
        var orders = new List<AcknowledgedOrder>();
        string? resume = null;
        for (var walk = 1; ; walk++)
        {
            if (await WalkAsync(apis, eventId, resume, orders, cancellation) is not var (sold, nextResume)) return null;
            resume = nextResume;
            var tickets = orders.Sum(o => (long)o.Tickets.Count);
            if (sold == tickets || walk == MaxWalks || resume is null)
            {
                // Left to the audit's comparisons with the databases, which name what differs.
                if (sold != tickets) Console.Error.WriteLine($"the export's pages hold {tickets} tickets; its last page says {sold?.ToString() ?? "nothing"} were sold");
                return new ExportWalk(orders, sold);
            }
            // What was left out waits on a transaction still running (PostgreSQL): give it time to end.
            try
            {
                await Task.Delay(SalesReader.RetryPause, cancellation);
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>A walk from <paramref name="after"/> (null: the start), its orders added to <paramref name="orders"/>.</summary>
    private static async Task<(long? TicketsSold, string? Resume)?> WalkAsync(
        List<TicketingApiClient> apis, string eventId, string? after, List<AcknowledgedOrder> orders, CancellationToken cancellation)
    {
        while (true)
        {
            var page = await FirstAnswer.AskAsync(apis, (api, token) => api.GetExportPageAsync(eventId, after, token),
                $"the export of '{eventId}'", SalesReader.RetryPause, cancellation);
            if (page is null) return null;
            orders.AddRange(page.Orders);
            if (page.Next is null) return (page.TicketsSold, page.Resume);
            after = page.Next;
        }
    }
}
