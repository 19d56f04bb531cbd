using OrleansTickets.Events;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Where the idempotency keys of one ticket type live: for each key, the flat index (see
/// <see cref="EventDefinition.ShardAt"/>) of its home shard.
/// </summary>
/// <remarks>
/// <para>
/// A key first picks one of the event's shard databases, the same one whatever the ticket type. Its home is then a
/// shard of the requested type on that database, so the home usually sells the order itself and nothing is
/// forwarded. The homes of one key for different types are different shards, but they share that database, and
/// its key table, keyed by (event, key), refuses the key to the second type even when both homes act at once.
/// </para>
/// <para>
/// A type with no shard on the key's database uses a home picked from every shard there, whatever its type; that
/// home forwards the order, as every home did before keys were placed by database.
/// </para>
/// <para>
/// Both picks depend only on the key and on the event's shard map, which never changes, so every retry of a
/// request, from any front end and after any restart, meets the same home.
/// </para>
/// </remarks>
internal sealed class KeyHomes
{
    private readonly int[][] _own;
    private readonly int[][] _any;

    /// <param name="definition">The event.</param>
    /// <param name="databases">The shard database of each shard, in flat order.</param>
    /// <param name="ticketTypeId">The type whose orders this map places.</param>
    public KeyHomes(EventDefinition definition, IReadOnlyList<int> databases, string ticketTypeId)
    {
        if (databases.Count != definition.TotalShards)
        {
            throw new ArgumentException("The shard map must name one database per shard.", nameof(databases));
        }
        var ordinals = databases.Distinct().Order().ToArray();
        _any = ordinals.Select(ordinal => Enumerable.Range(0, databases.Count).Where(i => databases[i] == ordinal).ToArray()).ToArray();
        var first = definition.FirstFlatIndexOf(ticketTypeId);
        var count = definition.FindTicketType(ticketTypeId)?.Shards ?? 0;
        _own = _any.Select(shards => shards.Where(i => i >= first && i < first + count).ToArray()).ToArray();
    }

    /// <summary>The flat index of <paramref name="key"/>'s home shard.</summary>
    public int HomeOf(string key)
    {
        var hash = KeyHash.Of(key);
        var database = (int)(hash % (ulong)_any.Length);
        // The quotient's bits are independent of the database pick, so keys spread evenly over its shards.
        var spread = hash / (ulong)_any.Length;
        var own = _own[database];
        var candidates = own.Length > 0 ? own : _any[database];
        return candidates[(int)(spread % (ulong)candidates.Length)];
    }
}
