using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using OrleansTickets.Events;

namespace OrleansTickets.Orders;

/// <summary>
/// Order ids are <c>event.type.shard.key</c>. The prefix tells which shard holds the order, so a lookup needs no
/// directory. The key is the order's row key in its shard database: 10 characters of mint time, then 128 random bits
/// that make the id unguessable.
/// </summary>
/// <remarks>
/// The time comes first so that a database's new orders sort after its old ones: each group commit appends its
/// orders to the end of the key index instead of dirtying one random leaf page per order (docs/benchmarks.md,
/// ninth session). The time is written in Crockford's base 32, whose digits sort in ASCII order, so string order is
/// time order; ids minted in the same millisecond sort by their random part.
/// </remarks>
public static class OrderId
{
    private const int RandomBytes = 16;
    private const int PoolBytes = 4096;
    private const int TimeChars = 10;
    private const int RandomChars = 22;

    /// <summary>Length of the key, the id's last part.</summary>
    public const int KeyLength = TimeChars + RandomChars;

    private const string TimeDigits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private static readonly SearchValues<char> TimeDigitSet = SearchValues.Create(TimeDigits);

    // Base64Url.IsValid skips white space, so the alphabet is checked exactly instead.
    private static readonly SearchValues<char> RandomDigitSet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    // Each RandomNumberGenerator.Fill call costs about 2 µs of OpenSSL overhead whatever its size, more than the
    // rest of minting an id, so every thread draws 4 KB at a time from the same generator and hands out 16 bytes
    // per id. Bytes handed out are wiped from the pool.
    [ThreadStatic] private static byte[]? t_pool;
    [ThreadStatic] private static int t_used;

    /// <summary>Mints a new id, at time <paramref name="now"/>, for an order held by <paramref name="shard"/>.</summary>
    public static string New(ShardAddress shard, DateTimeOffset now)
    {
        Span<byte> random = stackalloc byte[RandomBytes];
        TakeRandom(random);
        Span<char> key = stackalloc char[KeyLength];
        var milliseconds = (ulong)Math.Max(0, now.ToUnixTimeMilliseconds());
        for (var i = TimeChars - 1; i >= 0; i--, milliseconds >>= 5) key[i] = TimeDigits[(int)(milliseconds & 31)];
        Base64Url.EncodeToChars(random, key[TimeChars..]);
        return string.Create(CultureInfo.InvariantCulture, $"{shard.EventId}.{shard.TicketTypeId}.{shard.Index}.{key}");
    }

    /// <summary>
    /// The index of the shard that holds <paramref name="orderId"/> when it is an order of <paramref name="eventId"/>'s
    /// type <paramref name="ticketTypeId"/>; -1 otherwise. Reads the id in place, for callers on the purchase path.
    /// </summary>
    public static int ShardIndexOf(string orderId, string eventId, string ticketTypeId)
    {
        // event.type.index.key, where the event and type are slugs and so hold no dot.
        var id = orderId.AsSpan();
        var prefix = eventId.Length + 1 + ticketTypeId.Length + 1;
        if (id.Length <= prefix || !id.StartsWith(eventId, StringComparison.Ordinal) || id[eventId.Length] != '.'
            || !id[(eventId.Length + 1)..].StartsWith(ticketTypeId, StringComparison.Ordinal) || id[prefix - 1] != '.')
        {
            return -1;
        }
        var rest = id[prefix..];
        var dot = rest.IndexOf('.');
        return dot > 0 && CanonicalNumber.TryParse(rest[..dot], out var index) ? index : -1;
    }

    /// <summary>
    /// Whether <paramref name="orderId"/> is a well-formed id of an order held by <paramref name="shard"/>, as
    /// <see cref="TryGetShard"/> would say, read in place: a shard checks every keyless order's id this way.
    /// </summary>
    public static bool IsHeldBy(string orderId, ShardAddress shard)
    {
        if (orderId.Length > 200 || ShardIndexOf(orderId, shard.EventId, shard.TicketTypeId) != shard.Index) return false;
        // After the index's dot, only the key: its alphabet has no dot, so an id of more parts fails here.
        var keyStart = orderId.IndexOf('.', shard.EventId.Length + shard.TicketTypeId.Length + 2) + 1;
        return IsKey(orderId.AsSpan(keyStart));
    }

    /// <summary>The id's last part, under which its shard database stores the order. The id must be well formed.</summary>
    public static string KeyOf(string orderId) => orderId[(orderId.LastIndexOf('.') + 1)..];

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

    /// <summary>
    /// When <paramref name="orderId"/> was minted, by the clock of the silo that minted it, to the millisecond. The id
    /// must be well formed (<see cref="TryGetShard"/>).
    /// </summary>
    public static DateTimeOffset MintedAt(string orderId)
    {
        var time = orderId.AsSpan(orderId.LastIndexOf('.') + 1, TimeChars);
        var milliseconds = 0L;
        foreach (var digit in time) milliseconds = (milliseconds << 5) | (long)TimeDigits.IndexOf(digit);
        // Ten digits hold 50 bits, past the year 9999 that DateTimeOffset ends at.
        return milliseconds > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()
            ? DateTimeOffset.MaxValue
            : DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
    }

    /// <summary>Reads the shard out of an id; false for anything that is not a well-formed order id.</summary>
    public static bool TryGetShard(string? orderId, [NotNullWhen(true)] out ShardAddress? shard)
    {
        shard = null;
        if (orderId is null || orderId.Length > 200) return false;
        var parts = orderId.Split('.');
        if (parts.Length != 4 || !Slug.IsValid(parts[0]) || !Slug.IsValid(parts[1]) || parts[3].Length != KeyLength) return false;
        // The index as the service writes it: "017" would name shard 17 too, and be read there only to be answered 404.
        if (!CanonicalNumber.TryParse(parts[2], out var index) || !IsKey(parts[3])) return false;
        shard = new ShardAddress(parts[0], parts[1], index);
        return true;
    }

    /// <summary>Whether <paramref name="key"/> has the shape of an id's last part (see <see cref="KeyOf"/>).</summary>
    public static bool IsKey(ReadOnlySpan<char> key) =>
        key.Length == KeyLength && !key[..TimeChars].ContainsAnyExcept(TimeDigitSet) && !key[TimeChars..].ContainsAnyExcept(RandomDigitSet);
}
