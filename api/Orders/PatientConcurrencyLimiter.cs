using System.Threading.RateLimiting;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// A <see cref="ConcurrencyLimiter"/> whose waiters give up after <paramref name="maxWait"/>: a purchase that waited
/// longer for a slot would be served after its buyer stopped waiting (each slot may take the dispatcher's whole
/// patience when a shard database is down, and thousands queue), so it is refused instead, having changed nothing.
/// </summary>
internal sealed class PatientConcurrencyLimiter(ConcurrencyLimiter inner, TimeSpan maxWait) : RateLimiter
{
    /// <inheritdoc />
    /// <remarks>Not tracked: nothing here retires idle limiters (the process keeps its one for as long as it runs).</remarks>
    public override TimeSpan? IdleDuration => null;

    /// <inheritdoc />
    public override RateLimiterStatistics? GetStatistics() => inner.GetStatistics();

    /// <inheritdoc />
    protected override RateLimitLease AttemptAcquireCore(int permitCount) => inner.AttemptAcquire(permitCount);

    /// <inheritdoc />
    /// <remarks>
    /// <see cref="PurchaseAdmission"/> tries <see cref="AttemptAcquireCore"/> first, so only a purchase that must queue
    /// pays for the timer here.
    /// </remarks>
    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(maxWait);
        try
        {
            return await inner.AcquireAsync(permitCount, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return WaitedTooLong.Lease;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override ValueTask DisposeAsyncCore() => inner.DisposeAsync();

    private sealed class WaitedTooLong : RateLimitLease
    {
        public static readonly WaitedTooLong Lease = new();

        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}
