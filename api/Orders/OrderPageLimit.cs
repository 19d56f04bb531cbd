using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansTickets.Api.Http;
using OrleansTickets.Diagnostics;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// Counts each client's order pages: a token bucket for its rate, and a cap on its pages being answered at once. A
/// page the shard cannot answer from memory takes one of its database's lookup places (ShardDatabase.LookUpAsync), and
/// so does any well-formed made-up id of an existing shard before its 404. Without a count per client, one source
/// sending such ids as fast as it could took every place, and real buyers' pages got 503 until it stopped. Past either
/// limit a client gets 429 with Retry-After at once, before any grain or database sees the request.
/// </summary>
/// <remarks>
/// Per API process: N front ends allow a client N times as much, as for admission. Purchases are not counted: their
/// back-pressure is <see cref="PurchaseAdmission"/>, and one address may carry a whole office's or carrier's buyers.
/// Many sources together can still fill the places, each within its allowance.
/// </remarks>
public sealed class OrderPageLimit : IDisposable
{
    private readonly PartitionedRateLimiter<HttpContext> _limiter;
    // The chain does not dispose the limiters it is made of, whose timers would otherwise outlive this one.
    private readonly PartitionedRateLimiter<HttpContext>[] _parts = [];
    private readonly Counter<long> _refused;

    /// <summary>Builds the limits from <paramref name="options"/>; a limiter that refuses nothing when the rate is 0.</summary>
    public OrderPageLimit(IOptions<OrderPageLimitOptions> options, IMeterFactory meters)
    {
        var limits = options.Value;
        if (limits.Enabled)
        {
            // The partitioned limiter refills every bucket from its own timer, so the buckets need none of theirs.
            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.PerClientBurst,
                TokensPerPeriod = limits.PerClientPerSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                AutoReplenishment = false,
            };
            var inFlight = new ConcurrencyLimiterOptions { PermitLimit = limits.PerClientInFlight };
            // Places in flight first: a place given back returns to the client, a token spent does not, so a page refused
            // for the client's pages in flight must not spend one.
            _parts =
            [
                PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    RateLimitPartition.GetConcurrencyLimiter(ClientNetwork.Of(context.Connection.RemoteIpAddress), _ => inFlight)),
                PartitionedRateLimiter.Create<HttpContext, string>(context =>
                    RateLimitPartition.GetTokenBucketLimiter(ClientNetwork.Of(context.Connection.RemoteIpAddress), _ => bucket)),
            ];
            _limiter = PartitionedRateLimiter.CreateChained(_parts);
        }
        else
        {
            _limiter = PartitionedRateLimiter.Create<HttpContext, string>(_ => RateLimitPartition.GetNoLimiter(string.Empty));
        }
        _refused = meters.Create(TicketingMeter.Name).CreateCounter<long>("orleanstickets.order_pages.refused", "{request}",
            "Order page loads answered 429 (their client was past its allowance), in this API process.");
    }

    /// <summary>
    /// A lease to hold until <paramref name="context"/>'s page is answered, or null with <paramref name="refusal"/>, the
    /// 429 to answer, when its client is past its allowance. With the limit off, every request gets a lease.
    /// </summary>
    public RateLimitLease? TryAdmit(HttpContext context, out ProblemHttpResult? refusal)
    {
        refusal = null;
        var lease = _limiter.AttemptAcquire(context);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        _refused.AddQuietly(1);
        // A bucket of at least one token a second has the next within a second; a page in flight usually ends sooner
        // (at most a lookup's or the catalog's wait later). One second is when to try again.
        context.Response.Headers.RetryAfter = "1";
        refusal = Problems.Create(StatusCodes.Status429TooManyRequests, Problems.TooManyRequests, "Too many order pages from this client.",
            $"This client asked for more order pages, at once or per second, than its allowance ({OrderPageLimitOptions.SectionName}). Come back after Retry-After.");
        return null;
    }

    /// <summary>Stops the limiters' timers (the partitioned limiters' refill and idle-partition sweeps).</summary>
    public void Dispose()
    {
        _limiter.Dispose();
        foreach (var part in _parts) part.Dispose();
    }
}
