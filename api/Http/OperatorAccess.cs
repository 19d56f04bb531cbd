using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
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
            if (address is not null && System.Net.IPAddress.IsLoopback(address) && !IsForwarded(context.Request)) return null;
            return Problems.Create(StatusCodes.Status403Forbidden, Problems.OperatorsOnly, "Operators only.",
                $"No operator key is configured ({OperatorAccessOptions.SectionName}:Key), so only callers on this machine may do this.");
        }
        var sent = context.Request.Headers.Authorization;
        if (sent.Count == 1 && sent[0] is { } value && value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            && SameSecret(value[Scheme.Length..], key))
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

    // Hashing first makes the comparison's time independent of where, and whether in length, the two differ.
    private static bool SameSecret(string sent, string key) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
