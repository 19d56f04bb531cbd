using System.Net;
using System.Text.Json;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Reads <c>/sales</c> for a verification, from the first address that answers, and asks again while the service
/// says to come back (503) or no address answers at all. A sale that ends as a silo leaves (the chaos run scales the
/// cluster down near its end) meets such answers for a moment; that is not a failed check.
/// </summary>
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
    public static async Task<SalesSnapshot?> ReadAsync(
        IReadOnlyList<TicketingApiClient> apis, string eventId, TimeSpan retryPause, CancellationToken cancellation)
    {
        while (true)
        {
            foreach (var api in apis)
            {
                try
                {
                    return await api.GetSalesAsync(eventId, cancellation);
                }
                catch (Exception exception) when (exception is HttpRequestException { StatusCode: HttpStatusCode.ServiceUnavailable or null }
                    || (exception is TaskCanceledException && !cancellation.IsCancellationRequested))
                {
                    // 503, no connection, or the client's own request timeout: this address has no answer yet.
                    Console.Error.WriteLine($"the sales of '{eventId}' cannot be read yet: {exception.Message}");
                }
                catch (Exception exception) when (exception is HttpRequestException or JsonException or OperationCanceledException)
                {
                    Console.Error.WriteLine($"cannot read the sales of '{eventId}': {exception.Message}");
                    return null;
                }
            }
            try
            {
                await Task.Delay(retryPause, cancellation);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"cannot read the sales of '{eventId}': gave up waiting for an answer");
                return null;
            }
        }
    }
}
