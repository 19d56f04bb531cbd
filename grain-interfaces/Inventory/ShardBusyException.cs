namespace OrleansTickets.Inventory;

/// <summary>
/// A shard's database had no connection free for lookups (order pages, export pages) in time: a crowd of them is
/// keeping it busy. Nothing is wrong and nothing changed; asking again shortly is the answer. An
/// <see cref="OrleansException"/>, so the HTTP API answers 503 with Retry-After, without logging it as an error.
/// </summary>
[GenerateSerializer]
public sealed class ShardBusyException : OrleansException
{
    public ShardBusyException(string message) : base(message)
    {
    }
}
