using System.Net;

namespace OrleansTickets.Api.Http;

/// <summary>Whether a host name, as a URL or a connection string gives it, names this machine's loopback.</summary>
internal static class LoopbackHost
{
    /// <summary>True for <c>localhost</c> and for a loopback address, IPv6 ones with or without brackets.</summary>
    public static bool IsNamedBy(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
