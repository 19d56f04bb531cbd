using System.Net;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The HttpClients of a run: by default one per address, sized so that every virtual buyer has an HTTP/1.1 connection of its own.</summary>
public static class PooledHttpClient
{
    /// <summary>A request that takes longer than this counts as an error and is retried with the same key.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A client of at most <paramref name="connections"/> HTTP/1.1 connections to <paramref name="baseAddress"/>; with
    /// <paramref name="http2"/>, every request it sends is HTTP/2 (over <c>http://</c> without asking first, which
    /// the service's endpoint must be configured for) on one connection, more only past the server's stream limit,
    /// and nothing falls back to HTTP/1.1.
    /// </summary>
    public static HttpClient Create(Uri baseAddress, int connections, bool http2 = false)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            // Connections are never recycled mid-run, so reconnects do not show up as latency spikes.
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            // An HTTP_PROXY in the environment must not route a local benchmark through another process.
            UseProxy = false,
            // Over HTTP/2 a client otherwise keeps to one connection and queues what is over the server's stream limit
            // inside itself: those buyers would wait on the client, not on the service, and there would be fewer
            // requests in flight than buyers.
            EnableMultipleHttp2Connections = true,
        };
        var client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = RequestTimeout };
        if (http2)
        {
            client.DefaultRequestVersion = HttpVersion.Version20;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        return client;
    }

    /// <summary>
    /// The clients <paramref name="buyers"/> post through. Over HTTP/1.1 (<paramref name="http2Connections"/> 0) one
    /// client per address, with a connection per buyer. Over HTTP/2, <paramref name="http2Connections"/> clients per
    /// address, each on one connection that its buyers share as streams (a second one only past the server's stream
    /// limit): one client's pool fills a connection up to that limit (100 in Kestrel) before it opens another, so
    /// the number of connections would be the server's choice rather than the run's. The list goes round the
    /// addresses first, so a buyer that moves on to the next client after a failure (<see cref="Orders.VirtualBuyer"/>)
    /// moves to another address.
    /// </summary>
    public static List<HttpClient> CreateForBuyers(IReadOnlyList<Uri> urls, int buyers, int http2Connections) =>
        http2Connections == 0
            ? [.. urls.Select(url => Create(url, buyers))]
            : [.. Enumerable.Range(0, http2Connections).SelectMany(_ => urls).Select(url => Create(url, connections: 1, http2: true))];
}
