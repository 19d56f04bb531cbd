using System.Net;
using System.Text.Json;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Reads the whole back-office export of an event, page by page, from whichever address answers each page; like
/// <see cref="SalesReader"/>, it asks again while the service says to come back (503) or no address answers.
/// </summary>
public static class ExportReader
{
    /// <summary>Every exported order, or null once <paramref name="cancellation"/> fires or a page cannot be read.</summary>
    public static async Task<IReadOnlyList<AcknowledgedOrder>?> ReadAsync(IReadOnlyList<Uri> urls, string eventId, CancellationToken cancellation)
    {
        var clients = urls.Select(url => PooledHttpClient.Create(url, 1)).ToList();
        using var disposeClients = new CompositeDisposable(clients);
        var apis = clients.Select(http => new TicketingApiClient(http)).ToList();
        var orders = new List<AcknowledgedOrder>();
        string? after = null;
        do
        {
            if (await ReadPageAsync(apis, eventId, after, cancellation) is not { } page) return null;
            orders.AddRange(page.Orders);
            after = page.Next;
        }
        while (after is not null);
        return orders;
    }

    private static async Task<ExportPage?> ReadPageAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, string? after, CancellationToken cancellation)
    {
        while (true)
        {
            foreach (var api in apis)
            {
                try
                {
                    return await api.GetExportPageAsync(eventId, after, cancellation);
                }
                catch (Exception exception) when (exception is HttpRequestException { StatusCode: HttpStatusCode.ServiceUnavailable or null }
                    || (exception is TaskCanceledException && !cancellation.IsCancellationRequested))
                {
                    Console.Error.WriteLine($"the export of '{eventId}' cannot be read yet: {exception.Message}");
                }
                catch (Exception exception) when (exception is HttpRequestException or JsonException or OperationCanceledException)
                {
                    Console.Error.WriteLine($"cannot read the export of '{eventId}': {exception.Message}");
                    return null;
                }
            }
            try
            {
                await Task.Delay(SalesReader.RetryPause, cancellation);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"cannot read the export of '{eventId}': gave up waiting for an answer");
                return null;
            }
        }
    }
}
