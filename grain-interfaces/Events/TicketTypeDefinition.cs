namespace OrleansTickets.Events;

/// <summary>One kind of ticket in an event, with its whole inventory.</summary>
/// <param name="Id">Slug, unique within the event.</param>
/// <param name="Name">Display name.</param>
/// <param name="Price">Unit price, at most two decimal places.</param>
/// <param name="Currency">ISO 4217 code.</param>
/// <param name="Capacity">Number of physical tickets (serials 1..Capacity).</param>
/// <param name="Shards">How many inventory shards split the serial range.</param>
/// <param name="MaxPerOrder">Largest quantity one order may take.</param>
[GenerateSerializer, Immutable]
public sealed record TicketTypeDefinition(
    string Id, string Name, decimal Price, string Currency, int Capacity, int Shards, int MaxPerOrder)
{
    /// <summary>The block of consecutive serials owned by shard <paramref name="index"/>.</summary>
    /// <remarks>Blocks are disjoint and cover 1..Capacity, so a serial belongs to exactly one shard.</remarks>
    public SerialBlock BlockOf(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Shards);
        var baseSize = Capacity / Shards;
        var larger = Capacity % Shards;
        var size = baseSize + (index < larger ? 1 : 0);
        var first = 1L + (long)index * baseSize + Math.Min(index, larger);
        return new SerialBlock(first, size);
    }

    /// <summary>
    /// The block of shard <paramref name="index"/> when the type's tickets are shared evenly between its databases rather
    /// than its shards: each database named in <paramref name="databases"/> (the database of each of the type's shards,
    /// in index order) holds an even share of <see cref="Capacity"/>, split evenly between its shards.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Why: a key's home is on the database its key picks, evenly and whatever the type (KeyHomes, in the grains),
    /// so each database's homes take an even share of a type's orders. With shards dealt round the databases, a count
    /// that does not divide by them (10 shards on 4 databases lie 3, 3, 2 and 2) left the lighter databases a fifth of
    /// the tickets for a quarter of the orders: they ran dry early, and their keys' orders crossed databases at two
    /// commits each for the rest of the type's sale (docs/benchmarks.md, seventy-third session).
    /// </para>
    /// <para>
    /// Blocks are still disjoint and cover 1..Capacity in index order. Earlier databases (by their first shard) and, within
    /// a database, earlier shards take the remainders.
    /// </para>
    /// </remarks>
    public SerialBlock BlockOf(int index, IReadOnlyList<int> databases)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Shards);
        var sizes = BlockSizesByDatabase(databases);
        var first = 1L;
        for (var shard = 0; shard < index; shard++) first += sizes[shard];
        return new SerialBlock(first, sizes[index]);
    }

    /// <summary>The size of every shard's block under <see cref="BlockOf(int, IReadOnlyList{int})"/>, in index order.</summary>
    public int[] BlockSizesByDatabase(IReadOnlyList<int> databases)
    {
        if (databases.Count != Shards) throw new ArgumentException("The map must name one database per shard of the type.", nameof(databases));
        // One pass to rank the databases by their first shard and count their shards, one to size: linear in the shards.
        // (Counting and ranking each shard's database by a search were shards × databases steps for each placement a
        // catalog answers, seconds of its turns for a type of 4,096 shards spread over hundreds of databases.)
        var databaseOf = new Dictionary<int, (int Rank, int Shards, int Placed)>();
        foreach (var database in databases)
        {
            var (rank, shardsOn, _) = databaseOf.TryGetValue(database, out var known) ? known : (databaseOf.Count, 0, 0);
            databaseOf[database] = (rank, shardsOn + 1, 0);
        }
        var sizes = new int[Shards];
        for (var shard = 0; shard < Shards; shard++)
        {
            var database = databases[shard];
            var (rank, shardsOn, position) = databaseOf[database];
            databaseOf[database] = (rank, shardsOn, position + 1);
            var share = Capacity / databaseOf.Count + (rank < Capacity % databaseOf.Count ? 1 : 0);
            sizes[shard] = share / shardsOn + (position < share % shardsOn ? 1 : 0);
        }
        return sizes;
    }
}
