using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Reads the whole back-office export of an event, page by page, each from whichever address answers it (see
/// <see cref="FirstAnswer"/>).
/// </summary>
public static class ExportReader
{
    /// <summary>Every exported order, or null once <paramref name="cancellation"/> fires or a page cannot be read.</summary>
    public static async Task<IReadOnlyList<AcknowledgedOrder>?> ReadAsync(IReadOnlyList<Uri> urls, string eventId, CancellationToken cancellation)
    {
        var clients = urls.Select(url => PooledHttpClient.Create(url, 1)).ToList();
        using var disposeClients = new CompositeDisposable(clients);
        // The export is an operators' call: with a key configured, the service refuses it without one.
        var operatorKey = TicketingApiClient.OperatorKeyFromEnvironment();
        var apis = clients.Select(http => new TicketingApiClient(http, operatorKey)).ToList();
        var orders = new List<AcknowledgedOrder>();
        string? after = null;
        do
        {
            var page = await FirstAnswer.AskAsync(apis, (api, token) => api.GetExportPageAsync(eventId, after, token),
                $"the export of '{eventId}'", SalesReader.RetryPause, cancellation);
            if (page is null) return null;
            orders.AddRange(page.Orders);
            after = page.Next;
        }
        while (after is not null);
        return orders;
    }
}
