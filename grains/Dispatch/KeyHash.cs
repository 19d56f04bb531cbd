namespace OrleansTickets.Dispatch;

/// <summary>
/// A hash that is the same in every process and every run (unlike <see cref="string.GetHashCode()"/>), so an
/// idempotency key always finds the same home shard. FNV-1a over the UTF-16 code units.
/// </summary>
internal static class KeyHash
{
    public static ulong Of(string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }
}
