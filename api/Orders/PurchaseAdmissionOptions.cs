namespace OrleansTickets.Api.Orders;

/// <summary>How many purchases one API process works on at once, and how many may wait for a turn.</summary>
/// <remarks>
/// Bound from the <c>Api:Admission</c> configuration section; checked when the host starts. The limits are per process:
/// N front ends admit N times as many.
/// </remarks>
public sealed class PurchaseAdmissionOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Api:Admission";

    /// <summary>Purchases being worked on at once, from admission to the answer.</summary>
    public int MaxInFlight { get; set; } = 1024;

    /// <summary>Purchases waiting for one of those slots, served oldest first. One more gets 503 at once.</summary>
    public int MaxQueued { get; set; } = 4096;

    /// <summary>
    /// How long a purchase may wait for a slot before it gets 503. A full queue drains in well under a second while
    /// purchases take milliseconds; when each takes the dispatcher's whole 5 s patience (a shard database down), the
    /// last in the queue would otherwise wait about <c>MaxQueued / MaxInFlight</c> times that.
    /// </summary>
    public TimeSpan MaxQueueWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The longest <see cref="MaxQueueWait"/> the host starts with. A buyer's client has given up long before, and the
    /// wait's timer refuses spans past about 49.7 days: such a setting started, and then every queued purchase got a 500.
    /// </summary>
    public static readonly TimeSpan LongestQueueWait = TimeSpan.FromMinutes(5);
}
