namespace OrleansTickets.Inventory;

/// <summary>
/// A request in progress for one idempotency key on its home shard. The home holds at most one per key: later
/// requests with the same key wait for <see cref="Done"/>, so one key never runs two purchases at once.
/// </summary>
internal sealed class KeyRequest(string fingerprint)
{
    private readonly TaskCompletionSource _done = new();

    /// <summary>The fingerprint of this request's body, which a stored key must match for a replay.</summary>
    public string Fingerprint { get; } = fingerprint;

    /// <summary>The order the key durably maps to, or null while nothing durable is known yet.</summary>
    public string? OrderId { get; set; }

    /// <summary>Whether the request has read the stored key and found it (it follows a found key at most once).</summary>
    public bool Followed { get; set; }

    /// <summary>Completes when the request has ended and left the home's table of requests in progress.</summary>
    public Task Done => _done.Task;

    public void End() => _done.SetResult();
}
