using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Http;

/// <summary>Keeps buyers (and anyone else on the network) away from the endpoints that change inventory.</summary>
public static class OperatorAccess
{
    private const string Scheme = "Bearer ";

    /// <summary>Refuses every request to these endpoints that <see cref="Refusal"/> refuses, before the handler reads the body.</summary>
    public static TBuilder RequireOperator<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var options = context.HttpContext.RequestServices.GetRequiredService<IOptions<OperatorAccessOptions>>().Value;
            return Refusal(context.HttpContext, options.Key) ?? await next(context);
        });

    /// <summary>
    /// Null when the caller is an operator: it sent the configured key or, with no key configured, it is on loopback.
    /// Otherwise 401 (send the key) or 403 (no key exists, and the caller is not on this machine).
    /// </summary>
    public static ProblemHttpResult? Refusal(HttpContext context, string? key)
    {
        if (key is null)
        {
            // A dual-mode socket shows an IPv4 caller as ::ffff:a.b.c.d.
            var address = context.Connection.RemoteIpAddress;
            if (address is { IsIPv4MappedToIPv6: true }) address = address.MapToIPv4();
            if (address is not null && System.Net.IPAddress.IsLoopback(address) && !IsForwarded(context.Request))
            {
                if (!FromBrowserPage(context.Request)) return null;
                return Problems.Create(StatusCodes.Status403Forbidden, Problems.OperatorsOnly, "Operators only.",
                    "A request a web page made (it carries Origin or Sec-Fetch-Site, or names another host) is not taken for this " +
                    $"machine's operator. Call from a tool such as curl, or configure an operator key ({OperatorAccessOptions.SectionName}:Key) and send it.");
            }
            return Problems.Create(StatusCodes.Status403Forbidden, Problems.OperatorsOnly, "Operators only.",
                $"No operator key is configured ({OperatorAccessOptions.SectionName}:Key), so only callers on this machine may do this.");
        }
        var sent = context.Request.Headers.Authorization;
        if (sent.Count == 1 && sent[0] is { } raw && FieldValue.Trim(raw) is var value
            // One space or more after the scheme (RFC 9110's 1*SP); a key, a token68, holds none.
            && value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) && SameSecret(value[Scheme.Length..].TrimStart(' '), key))
        {
            return null;
        }
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Create(StatusCodes.Status401Unauthorized, Problems.OperatorKeyRequired, "An operator key is required.",
            "Send the operator key as 'Authorization: Bearer <key>'.");
    }

    /// <summary>
    /// A request a proxy passed on: from loopback, but not from this machine's operator. With forwarded headers
    /// enabled (ASPNETCORE_FORWARDEDHEADERS_ENABLED), ASP.NET takes the caller's address from X-Forwarded-For, which
    /// anyone can send, and keeps the original in X-Original-For; either header means "ask for the key".
    /// </summary>
    private static bool IsForwarded(HttpRequest request) =>
        request.Headers.ContainsKey("X-Forwarded-For") || request.Headers.ContainsKey("X-Original-For")
        || request.Headers.ContainsKey("Forwarded");

    /// <summary>
    /// A request a browser sent for a web page: from loopback, but not from this machine's operator. Any page the
    /// operator's browser opens can post to localhost without asking first (a drain needs no body), and a page whose
    /// name an attacker points at 127.0.0.1 (DNS rebinding) can read the export's answers as its own. Browsers send
    /// Origin with every cross-origin request and with every POST, and Sec-Fetch-Site with every request ("none"
    /// only for an address typed or bookmarked by the user), and the Host they send is the page's name; tools such as
    /// curl send none of these, and the Host of the address they were given. The service serves no pages of its own.
    /// </summary>
    private static bool FromBrowserPage(HttpRequest request)
    {
        if (request.Headers.ContainsKey("Origin")) return true;
        if (request.Headers.TryGetValue("Sec-Fetch-Site", out var site)
            && !string.Equals(FieldValue.Trim(site.ToString()), "none", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (!request.Host.HasValue) return false;
        return !LoopbackHost.IsNamedBy(request.Host.Host);
    }

    // Hashing first makes the comparison's time independent of where, and whether in length, the two differ.
    private static bool SameSecret(string sent, string key) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
