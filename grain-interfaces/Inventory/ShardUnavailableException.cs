namespace OrleansTickets.Inventory;

/// <summary>
/// A shard could not read its database to answer. Nothing is known to be wrong with the data; asking again later
/// is safe. An <see cref="OrleansException"/>, so the HTTP API answers 503 with Retry-After, as for any cluster fault.
/// </summary>
[GenerateSerializer]
public sealed class ShardUnavailableException : OrleansException
{
    public ShardUnavailableException(string message) : base(message)
    {
    }
}
