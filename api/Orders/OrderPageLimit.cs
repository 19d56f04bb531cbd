using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTickets.Api.Http;
using OrleansTickets.Diagnostics;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// A token bucket per client for the order page. Each page the shard cannot answer from memory takes one of its
/// database's lookup places (at most half of its pool; ShardDatabase.LookUpAsync), and any well-formed made-up id
/// of an existing shard costs such a read before its 404. Without a per-client count one source sending such ids as
/// fast as it can took every place, and real buyers' pages got 503 until it stopped. Past its bucket a client gets
/// 429 with Retry-After at once, before any grain or database sees the request.
/// </summary>
/// <remarks>
/// Per API process: N front ends allow a client N times as much, as for admission. Purchases are not counted: their
/// back-pressure is <see cref="PurchaseAdmission"/>, and one address may carry a whole office's or carrier's buyers.
/// </remarks>
public sealed class OrderPageLimit : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext>? _limiter;
    private readonly Counter<long> _refused;

    public OrderPageLimit(IOptions<OrderPageLimitOptions> options, IMeterFactory meters)
    {
        var limits = options.Value;
        if (limits.Enabled)
        {
            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.PerClientBurst,
                TokensPerPeriod = limits.PerClientPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                // Refused at once: a page waiting for a token would hold its connection and its server's memory.
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            _limiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetTokenBucketLimiter(ClientNetwork.Of(context.Connection.RemoteIpAddress), _ => bucket));
        }
        _refused = meters.Create(TicketingMeter.Name).CreateCounter<long>("orleanstickets.order_pages.refused", "{request}",
            "Order page loads answered 429 (their client was past its allowance), in this API process.");
    }

    /// <summary>Null when <paramref name="context"/>'s client may load a page now; otherwise the 429 to answer.</summary>
    public ProblemHttpResult? Refusal(HttpContext context)
    {
        if (_limiter is null) return null;
        using var lease = _limiter.AttemptAcquire(context);
        if (lease.IsAcquired) return null;
        _refused.Add(1);
        // The bucket says when its next tokens come; a whole second at least, since Retry-After counts in seconds.
        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, Problems.TooManyRequests, "Too many order pages from this client.",
            $"This client loaded more order pages than its allowance ({OrderPageLimitOptions.SectionName}). Come back after Retry-After.");
    }

    public void Dispose() => _limiter?.Dispose();
}

/// <summary>Puts an endpoint under <see cref="OrderPageLimit"/>.</summary>
public static class OrderPageLimitEndpoints
{
    /// <summary>Counts each request to these endpoints against its client, and answers 429 past the allowance.</summary>
    public static TBuilder LimitPerClient<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
            context.HttpContext.RequestServices.GetRequiredService<OrderPageLimit>().Refusal(context.HttpContext) ?? await next(context));
}
