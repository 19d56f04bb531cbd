using System.Net;
using System.Text.Json;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>
/// Asks a question of the first address that answers, and asks again while the service says to come back (503) or no
/// address answers at all: reads after a sale that ended as a silo left (the chaos run scales the cluster down near
/// its end) meet such answers for a moment, and that is not a failed check.
/// </summary>
public static class FirstAnswer
{
    /// <summary>
    /// The answer, or null once <paramref name="cancellation"/> fires or an address answers with anything but 200 or
    /// 503, or with a body that is not the answer asked for. <paramref name="what"/> names the question in the messages, e.g. "the sales of 'festival'".
    /// </summary>
    public static async Task<T?> AskAsync<T>(
        IReadOnlyList<TicketingApiClient> apis, Func<TicketingApiClient, CancellationToken, Task<T>> ask, string what,
        TimeSpan retryPause, CancellationToken cancellation) where T : class
    {
        while (true)
        {
            foreach (var api in apis)
            {
                try
                {
                    return await ask(api, cancellation);
                }
                catch (Exception exception) when (exception is HttpRequestException { StatusCode: HttpStatusCode.ServiceUnavailable or null }
                    || (exception is TaskCanceledException && !cancellation.IsCancellationRequested))
                {
                    // 503, no connection, or the client's own request timeout: this address has no answer yet.
                    Console.Error.WriteLine($"{what} cannot be read yet: {exception.Message}");
                }
                catch (Exception exception) when (exception is HttpRequestException or JsonException or InvalidDataException or OperationCanceledException)
                {
                    // Another status, a body that does not parse, none at all, or a report of another event.
                    Console.Error.WriteLine($"cannot read {what}: {exception.Message}");
                    return null;
                }
            }
            try
            {
                await Task.Delay(retryPause, cancellation);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"cannot read {what}: gave up waiting for an answer");
                return null;
            }
        }
    }
}
