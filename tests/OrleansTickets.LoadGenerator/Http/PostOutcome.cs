using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The answer to one POST.</summary>
/// <param name="Result">What the buyer does next.</param>
/// <param name="StatusCode">The HTTP status, or 0 when no response arrived.</param>
/// <param name="Order">The order, when <see cref="PostResult.Acknowledged"/>.</param>
/// <param name="Remaining">The problem's <c>remaining</c>, when <see cref="PostResult.SoldOut"/>.</param>
/// <param name="RetryAfter">How long to wait, when <see cref="PostResult.Unavailable"/>.</param>
/// <param name="Latency">From sending to the whole body read; until the exchange failed when no response arrived.</param>
/// <param name="Body">The response body, when <see cref="PostResult.Acknowledged"/>: what the buyer keeps of the order.</param>
public sealed record PostOutcome(
    PostResult Result,
    int StatusCode,
    AcknowledgedOrder? Order = null,
    long Remaining = 0,
    TimeSpan RetryAfter = default,
    TimeSpan Latency = default,
    byte[]? Body = null);
