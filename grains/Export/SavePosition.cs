using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace OrleansTickets.Export;

/// <summary>
/// A place in one shard database's save order of an event's orders: after every order whose save mark is below
/// <paramref name="Mark"/>, and after those with that mark whose key sorts up to <paramref name="Key"/> ("" for none).
/// Marks are taken as orders are written, and a read hands out only places at or below its database's save horizon,
/// which no order committing later can sort behind (<see cref="Storage.ShardSql.ReadSaveHorizon"/>), so reading on from
/// a place passes over no order committed after it was reached. <paramref name="LastGiven"/> names the last order
/// before the place (<see cref="WitnessOf"/>; 0 for none), so that a database that forgot it (a backup put back) and
/// gave its marks to new orders is noticed instead of read on from.
/// </summary>
public readonly record struct SavePosition(long Mark, string Key, ushort LastGiven = 0)
{
    /// <summary>Before every order.</summary>
    public static SavePosition Start { get; } = new(0, "");

    /// <summary>
    /// 16 bits naming an order by its key, never 0 (0 names none): two bytes a database to keep in a cursor, against a
    /// key's 32. Another order there with the same witness passes for it once in 65,535.
    /// </summary>
    public static ushort WitnessOf(string? orderKey)
    {
        if (orderKey is null) return 0;
        var hash = BinaryPrimitives.ReadUInt16BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(orderKey)));
        return (ushort)(hash % ushort.MaxValue + 1);
    }
}
