using System.Buffers.Text;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;

namespace OrleansTickets.Export;

/// <summary>
/// Writes an export cursor as the text a page hands out, and reads it back only if a page of the same event, over the
/// same databases, wrote it. A cursor edited by hand (a mark raised, a database left out) would pass over orders as
/// silently as a walk that missed them, so the text carries a MAC under a key derived from the deployment's secret.
/// </summary>
/// <remarks>
/// Layout, before base64url: a version byte, the number of databases, the current one, each database's mark as the
/// zigzag difference from the one before (SQLite's marks are small, and one PostgreSQL server's lie within a sale's
/// transaction ids: 550 databases' marks take 600 to 1,400 bytes), each database's last order given (two bytes), the key, and 16 bytes of
/// HMAC-SHA256 over the event id, the databases' ordinals and all of that.
/// </remarks>
internal sealed class ExportCursorSeal(byte[] key)
{
    /// <summary>Longer text is refused unread: 550 databases on one server write 2,300 to 3,400 characters.</summary>
    public const int MaxTextLength = 65_536;

    private const byte Version = 2;
    private const int MacBytes = 16;

    /// <summary>The cursor's text for pages of <paramref name="eventId"/> over <paramref name="ordinals"/>.</summary>
    public string Write(string eventId, ImmutableArray<int> ordinals, ExportCursor cursor)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Version);
            writer.Write7BitEncodedInt(cursor.Marks.Length);
            writer.Write7BitEncodedInt(cursor.Current);
            var previous = 0L;
            foreach (var mark in cursor.Marks)
            {
                var difference = mark - previous;
                writer.Write7BitEncodedInt64((difference << 1) ^ (difference >> 63));
                previous = mark;
            }
            foreach (var witness in cursor.LastGiven) writer.Write(witness);
            writer.Write(cursor.Key);
        }
        var payloadLength = (int)buffer.Length;
        buffer.Write(Mac(eventId, ordinals, buffer.GetBuffer().AsSpan(0, payloadLength)));
        return Base64Url.EncodeToString(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>The cursor <paramref name="text"/> holds, or null unless <see cref="Write"/> wrote it for this event and these databases.</summary>
    public ExportCursor? Read(string eventId, ImmutableArray<int> ordinals, string text)
    {
        if (text.Length is 0 or > MaxTextLength) return null;
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return null;
        }
        // One spelling: base64url also reads padded text and text with spare bits set, which no page writes.
        if (bytes.Length <= MacBytes || Base64Url.EncodeToString(bytes) != text) return null;
        var payload = bytes.AsSpan(0, bytes.Length - MacBytes);
        if (!CryptographicOperations.FixedTimeEquals(Mac(eventId, ordinals, payload), bytes.AsSpan(payload.Length))) return null;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, 0, payload.Length), Encoding.UTF8);
            if (reader.ReadByte() != Version) return null;
            var count = reader.Read7BitEncodedInt();
            var current = reader.Read7BitEncodedInt();
            if (count != ordinals.Length || current < 0 || current >= count) return null;
            var marks = ImmutableArray.CreateBuilder<long>(count);
            var previous = 0L;
            for (var i = 0; i < count; i++)
            {
                var zigzag = reader.Read7BitEncodedInt64();
                previous += (long)((ulong)zigzag >> 1) ^ -(zigzag & 1);
                marks.Add(previous);
            }
            var lastGiven = ImmutableArray.CreateBuilder<ushort>(count);
            for (var i = 0; i < count; i++) lastGiven.Add(reader.ReadUInt16());
            var key = reader.ReadString();
            if (reader.BaseStream.Position != payload.Length) return null;
            return new ExportCursor(current, marks.MoveToImmutable(), key, lastGiven.MoveToImmutable());
        }
        catch (Exception exception) when (exception is EndOfStreamException or FormatException or IOException)
        {
            // Sealed by this key, so written by a page: only a build with another layout gets here.
            return null;
        }
    }

    private byte[] Mac(string eventId, ImmutableArray<int> ordinals, ReadOnlySpan<byte> payload)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        hmac.AppendData(Encoding.UTF8.GetBytes(eventId));
        // Event ids are slugs: no NUL, so none ends where another's bytes go on.
        hmac.AppendData([0]);
        Span<byte> number = stackalloc byte[sizeof(int)];
        foreach (var ordinal in ordinals)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(number, ordinal);
            hmac.AppendData(number);
        }
        hmac.AppendData(payload);
        return hmac.GetHashAndReset()[..MacBytes];
    }
}
