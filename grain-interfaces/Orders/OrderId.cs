using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using OrleansTickets.Events;

namespace OrleansTickets.Orders;

/// <summary>
/// Order ids are <c>event.type.shard.random</c>: the prefix tells which shard holds the order, so a lookup
/// needs no index, and 128 random bits make the id unguessable.
/// </summary>
public static class OrderId
{
    private const int RandomBytes = 16;
    private const int PoolBytes = 4096;

    // Each RandomNumberGenerator.Fill call costs about 2 µs of OpenSSL overhead whatever its size, more than the
    // rest of minting an id, so every thread draws 4 KB at a time from the same generator and hands out 16 bytes
    // per id. Bytes handed out are wiped from the pool.
    [ThreadStatic] private static byte[]? t_pool;
    [ThreadStatic] private static int t_used;

    /// <summary>Mints a new id for an order held by <paramref name="shard"/>.</summary>
    public static string New(ShardAddress shard)
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        TakeRandom(random);
        return string.Create(CultureInfo.InvariantCulture,
            $"{shard.EventId}.{shard.TicketTypeId}.{shard.Index}.{Base64Url.EncodeToString(random)}");
    }

    private static void TakeRandom(Span<byte> destination)
    {
        if (t_pool is null)
        {
            t_pool = new byte[PoolBytes];
            t_used = PoolBytes;
        }
        if (t_used + destination.Length > PoolBytes)
        {
            RandomNumberGenerator.Fill(t_pool);
            t_used = 0;
        }
        var taken = t_pool.AsSpan(t_used, destination.Length);
        taken.CopyTo(destination);
        taken.Clear();
        t_used += destination.Length;
    }

    /// <summary>Reads the shard out of an id; false for anything that is not a well-formed order id.</summary>
    public static bool TryGetShard(string? orderId, [NotNullWhen(true)] out ShardAddress? shard)
    {
        shard = null;
        if (orderId is null || orderId.Length > 200) return false;
        var parts = orderId.Split('.');
        if (parts.Length != 4 || !Slug.IsValid(parts[0]) || !Slug.IsValid(parts[1]) || parts[3].Length != 22) return false;
        if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return false;
        if (!Base64Url.IsValid(parts[3])) return false;
        shard = new ShardAddress(parts[0], parts[1], index);
        return true;
    }
}
