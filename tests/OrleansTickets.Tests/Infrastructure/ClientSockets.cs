using System.Net;
using System.Net.Sockets;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>A test client's own TCP connections, for <see cref="SocketsHttpHandler.ConnectCallback"/>.</summary>
public static class ClientSockets
{
    /// <summary>Connects to the handler's endpoint, from <paramref name="source"/> when one is given (another client to the server).</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellation, IPAddress? source = null)
    {
        var socket = source is null
            ? new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }
            : new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null) socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(context.DnsEndPoint, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
