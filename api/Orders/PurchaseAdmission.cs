using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OrleansTickets.Api.Http;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// Back-pressure for the purchase endpoint. Past saturation, more buyers in the cluster only lengthen every queue
/// until calls time out with their outcome unknown. So at most <see cref="PurchaseAdmissionOptions.MaxInFlight"/>
/// purchases run at once, a bounded number wait their turn for a bounded time, and anyone past either is told to come
/// back (503 with Retry-After) before a grain sees the request, so a refused purchase has changed nothing.
/// </summary>
public sealed class PurchaseAdmission(IOptions<PurchaseAdmissionOptions> options) : IRateLimiterPolicy<string>
{
    /// <summary>The rate-limiting policy name the purchase endpoint requires.</summary>
    public const string PolicyName = "purchases";

    // One limiter for the whole process: the partition key never varies, so the limiter is built once.
    private readonly RateLimitPartition<string> _partition = RateLimitPartition.Get(PolicyName, _ => new PatientConcurrencyLimiter(
        new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.Value.MaxInFlight,
            QueueLimit = options.Value.MaxQueued,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }),
        options.Value.MaxQueueWait));

    /// <inheritdoc />
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = RejectAsync;

    /// <inheritdoc />
    public RateLimitPartition<string> GetPartition(HttpContext httpContext) => _partition;

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellation) =>
        // Written like every other problem, so it is JSON whatever the request's Accept header says.
        await Problems.RetryLater(context.HttpContext, Problems.Overloaded, "Too many purchases at once.",
            "Nothing was sold. Retry after the time in Retry-After (with the same Idempotency-Key, if one was sent).").ExecuteAsync(context.HttpContext);
}
