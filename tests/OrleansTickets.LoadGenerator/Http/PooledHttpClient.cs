using System.Net;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The one HttpClient of a run, sized so that every virtual buyer has a connection of its own.</summary>
public static class PooledHttpClient
{
    /// <summary>A request that takes longer than this counts as an error and is retried with the same key.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public static HttpClient Create(Uri baseAddress, int connections)
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
        };
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = RequestTimeout };
    }
}
