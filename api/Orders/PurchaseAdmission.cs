using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using OrleansTickets.Diagnostics;

namespace OrleansTickets.Api.Orders;

/// <summary>
/// Back-pressure for the purchase endpoint. Past saturation, more buyers in the cluster only lengthen every queue
/// until calls time out with their outcome unknown. So at most <see cref="PurchaseAdmissionOptions.MaxInFlight"/>
/// purchases run at once, a bounded number wait their turn for a bounded time, and anyone past either is told to come
/// back (503 with Retry-After) before a grain sees the request, so a refused purchase has changed nothing.
/// </summary>
/// <remarks>
/// A purchase is admitted once its body has been read and found valid. The slots stand for work in the cluster, and a
/// body still arriving is none: taken before the read, a slot could be held for a minute and more by a client that
/// uploads at Kestrel's minimum rate (240 bytes/s), and about a thousand such clients held every slot of a front end.
/// A crowd's bodies are now read even when their purchases are then turned away; a buyer's is a few hundred bytes (16 KB
/// at most) that came in the request's first packets.
/// </remarks>
public sealed class PurchaseAdmission : IDisposable
{
    private readonly PatientConcurrencyLimiter _limiter;
    private readonly Counter<long> _refused;

    public PurchaseAdmission(IOptions<PurchaseAdmissionOptions> options, IMeterFactory meters)
    {
        var limits = options.Value;
        _limiter = new PatientConcurrencyLimiter(new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxInFlight,
            QueueLimit = limits.MaxQueued,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }), limits.MaxQueueWait);
        // The silo's meter, so that one dotnet-counters provider shows both. The gauges are read from the limiter when
        // someone listens: nothing is recorded per admitted purchase.
        var meter = meters.Create(TicketingMeter.Name);
        meter.CreateObservableUpDownCounter("orleanstickets.admission.in_flight",
            () => limits.MaxInFlight - (Statistics()?.CurrentAvailablePermits ?? limits.MaxInFlight),
            "{purchase}", "Purchases admitted whose answer is not ready yet, in this API process.");
        meter.CreateObservableUpDownCounter("orleanstickets.admission.queued",
            () => Statistics()?.CurrentQueuedCount ?? 0,
            "{purchase}", "Purchases waiting for a slot, in this API process.");
        _refused = meter.CreateCounter<long>("orleanstickets.admission.refused", "{purchase}",
            "Purchases answered 503 overloaded (the queue was full, or they waited their longest), in this API process.");
    }

    /// <summary>
    /// A slot for one purchase, to be disposed once its answer is ready; not acquired (and nothing to release)
    /// when the queue is full or the purchase waited <see cref="PurchaseAdmissionOptions.MaxQueueWait"/> for one.
    /// </summary>
    /// <param name="requestAborted">The buyer's request: a buyer who leaves while queued gives up the place.</param>
    public async ValueTask<RateLimitLease> AdmitAsync(CancellationToken requestAborted)
    {
        // Tried without waiting first, as ASP.NET Core's rate limiter does: only a purchase that must queue pays for the
        // wait's timer. The limiter serves its queue oldest first, so this never jumps it.
        var lease = _limiter.AttemptAcquire();
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        lease = await _limiter.AcquireAsync(cancellationToken: requestAborted);
        if (!lease.IsAcquired) _refused.AddQuietly(1);
        return lease;
    }

    /// <inheritdoc />
    public void Dispose() => _limiter.Dispose();

    /// <summary>The limiter's statistics, or null once it is disposed (a listener may read the gauges while the host stops).</summary>
    private RateLimiterStatistics? Statistics()
    {
        try
        {
            return _limiter.GetStatistics();
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }
}
