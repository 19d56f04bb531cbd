using System.Net;
using System.Net.Sockets;

namespace OrleansTickets.Api.Http;

/// <summary>Who a per-client limit counts a request against.</summary>
public static class ClientNetwork
{
    /// <summary>
    /// The caller's IPv4 address (an IPv4-mapped IPv6 address is read as IPv4), or the /64 network of its IPv6 address:
    /// one IPv6 subscriber is handed a whole /64, so counting single addresses would give a single client 2^64 allowances.
    /// A connection without an IP address (a Unix socket, an in-memory test server) is "local": such callers share one count.
    /// </summary>
    public static string Of(IPAddress? address)
    {
        if (address is null) return "local";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
