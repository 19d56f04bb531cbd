namespace OrleansTickets.Export;

/// <summary>
/// A place in one shard database's save order of an event's orders: after every order whose save mark is below
/// <paramref name="Mark"/>, and after those with that mark whose key sorts up to <paramref name="Key"/> ("" for none).
/// Marks are taken as orders are written, and a read hands out only places at or below its database's save horizon,
/// which no order committing later can sort behind (<see cref="Storage.ShardSql.ReadSaveHorizon"/>), so reading on from
/// a place passes over no order committed after it was reached.
/// </summary>
public readonly record struct SavePosition(long Mark, string Key) : IComparable<SavePosition>
{
    /// <summary>Before every order.</summary>
    public static SavePosition Start { get; } = new(0, "");

    /// <summary>By mark, then by key in code-unit order (the only comparison made is against a key of "").</summary>
    public int CompareTo(SavePosition other)
    {
        var byMark = Mark.CompareTo(other.Mark);
        return byMark != 0 ? byMark : string.CompareOrdinal(Key, other.Key);
    }
}
