using System.Net;
using System.Net.Sockets;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Finds loopback ports nobody is listening on, so parallel test hosts never collide.</summary>
/// <remarks>
/// A port is chosen now and bound later, by a silo that starts after it. A port the kernel picked for a listener on
/// port 0 comes from the ephemeral range (32768-60999 by default on Linux), the range every outgoing connection takes
/// its local port from, and the tests open many (HTTP clients, PostgreSQL pools, a rehearsal's crowd of buyers
/// between a host's choice and its silo's bind): one of them took a chosen port and the silo failed with "address
/// already in use". So ports come from below that range instead (and below 30000, where cluster.sh's gateways start),
/// each handed out once per process, and each checked free when it is handed out.
/// </remarks>
public static class FreePort
{
    private const int First = 20_000;
    private const int Count = 10_000;

    // Where this process starts in the range: another test process on the machine most likely starts elsewhere.
    private static int _next = Random.Shared.Next(Count);

    public static int Next()
    {
        for (var tries = 0; tries < Count; tries++)
        {
            var port = First + (Interlocked.Increment(ref _next) % Count);
            if (IsFree(port)) return port;
        }
        throw new InvalidOperationException($"No free loopback port in {First}-{First + Count - 1}.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
