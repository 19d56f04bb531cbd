namespace OrleansTickets.Inventory;

/// <summary>
/// What a home shard knows about one idempotency key. <see cref="Busy"/> is set while a request for the key is
/// being worked on: later requests with the same key wait for it, so one key never runs two purchases at once.
/// </summary>
internal sealed class KeyEntry(string fingerprint, string? orderId)
{
    public string Fingerprint { get; } = fingerprint;

    /// <summary>The order the key durably maps to, or null while nothing is durable yet.</summary>
    public string? OrderId { get; set; } = orderId;

    public Task? Busy { get; set; }

    /// <summary>Whether the request in progress has read the stored key already (it does so at most once).</summary>
    public bool Followed { get; set; }
}
