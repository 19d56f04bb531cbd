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
    /// <summary>Mints a new id for an order held by <paramref name="shard"/>.</summary>
    public static string New(ShardAddress shard)
    {
        Span<byte> random = stackalloc byte[16];
        RandomNumberGenerator.Fill(random);
        return string.Create(CultureInfo.InvariantCulture,
            $"{shard.EventId}.{shard.TicketTypeId}.{shard.Index}.{Base64Url.EncodeToString(random)}");
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
