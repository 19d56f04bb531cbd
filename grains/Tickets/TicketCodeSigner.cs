using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace OrleansTickets.Tickets;

/// <summary>
/// Makes and checks ticket codes <c>event.type.serial.mac</c>. The mac is 128 bits of HMAC-SHA256 over the
/// other parts under the deployment's secret, so a gate can reject a forged or altered code without reading
/// any database, and nobody without the secret can guess a valid code.
/// </summary>
public sealed class TicketCodeSigner : IDisposable
{
    /// <summary>The shortest signing key accepted, in bytes.</summary>
    public const int MinKeyBytes = 32;

    /// <summary>
    /// The fewest different byte values a key may hold. A key typed or padded by hand (32 zero bytes, "AAAA…=", a word
    /// repeated) is as long as a random one but far easier to guess, and whoever guesses it can mint tickets. 32 random
    /// bytes hold about 30 different values; fewer than 16 happens to one key in about 3 × 10^16.
    /// </summary>
    public const int MinDistinctKeyBytes = 16;

    /// <summary>What a key must be, for the errors that refuse one.</summary>
    public static readonly string KeyRule =
        $"base64 of at least {MinKeyBytes} random bytes (at least {MinDistinctKeyBytes} different byte values, and not all printable text; e.g. head -c 32 /dev/urandom | base64)";

    private const int MacBytes = 16;
    // The mac's unpadded base64url text, the longest a serial can be written in (long.MinValue), and the code that fits
    // on the stack.
    private const int MacChars = 22;
    private const int MaxSerialChars = 20;
    private const int StackCodeChars = 256;
    private const int StackPayloadBytes = 256;
    private readonly byte[] _key;

    // One keyed HMAC per thread, reset after each use: a one-shot HMACSHA256.HashData sets the key up again on
    // every call, which cost OpenSSL about 5.5 µs against 2.2 µs for a reset (docs/benchmarks.md), and a sale
    // signs every ticket. No await runs between appending and finishing, so no two codes share a thread's HMAC.
    private readonly ThreadLocal<IncrementalHash> _hmac;
    private bool _disposed;

    /// <summary>Creates a signer from configured options.</summary>
    public TicketCodeSigner(IOptions<TicketCodeOptions> options)
        : this(TryParseKey(options.Value.SigningKey ?? throw new InvalidOperationException("Tickets:SigningKey is not configured."), out var key)
            ? key
            : throw new InvalidOperationException($"Tickets:SigningKey must be {KeyRule}."))
    {
    }

    /// <summary>Creates a signer from a raw key of at least 32 bytes, with at least 16 different byte values.</summary>
    public TicketCodeSigner(byte[] key)
    {
        if (!IsStrong(key)) throw new ArgumentException($"The ticket signing key must be at least {MinKeyBytes} bytes, with at least {MinDistinctKeyBytes} different byte values.", nameof(key));
        _key = key;
        _hmac = new ThreadLocal<IncrementalHash>(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key), trackAllValues: true);
    }

    /// <summary>Reads a key written as base64; false unless it is base64 of a key <see cref="IsStrong"/> accepts.</summary>
    public static bool TryParseKey(string text, out byte[] key)
    {
        key = [];
        var buffer = new byte[text.Length];
        if (!Convert.TryFromBase64String(text.Trim(), buffer, out var written) || !IsStrong(buffer.AsSpan(0, written))) return false;
        key = buffer[..written];
        return true;
    }

    /// <summary>
    /// Whether <paramref name="key"/> has at least <see cref="MinKeyBytes"/> bytes and <see cref="MinDistinctKeyBytes"/>
    /// different values, and is not all printable ASCII: a passphrase written as base64 ("our festival secret 2025")
    /// passes the count, and every buyer holds codes to test guesses of it against offline. 32 random bytes are all
    /// printable for about one key in 6 × 10^13.
    /// </summary>
    private static bool IsStrong(ReadOnlySpan<byte> key)
    {
        if (key.Length < MinKeyBytes) return false;
        if (!key.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E)) return false;
        Span<bool> seen = stackalloc bool[256];
        var distinct = 0;
        foreach (var value in key)
        {
            if (seen[value]) continue;
            seen[value] = true;
            distinct++;
        }
        return distinct >= MinDistinctKeyBytes;
    }

    /// <summary>The code of one ticket.</summary>
    public string Sign(string eventId, string ticketTypeId, long serial)
    {
        // Built in one buffer and copied into the one string returned: a sale signs every ticket it sells, and the
        // payload and the mac's text as strings of their own were two more allocations per ticket.
        var length = eventId.Length + ticketTypeId.Length + MaxSerialChars + 3 + MacChars;
        var rented = length > StackCodeChars ? ArrayPool<char>.Shared.Rent(length) : null;
        Span<char> code = rented is null ? stackalloc char[StackCodeChars] : rented;
        try
        {
            // The buffer was sized for the longest long, so a failure here is a sizing bug, not a code to sign short.
            if (!code.TryWrite(CultureInfo.InvariantCulture, $"{eventId}.{ticketTypeId}.{serial}", out var at)) throw new UnreachableException();
            Span<byte> mac = stackalloc byte[SHA256.HashSizeInBytes];
            Mac(code[..at], mac);
            code[at++] = '.';
            at += Base64Url.EncodeToChars(mac[..MacBytes], code[at..]);
            return new string(code[..at]);
        }
        finally
        {
            if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Names this key without revealing it: an HMAC of a fixed label, which no ticket's payload can be (slugs have no
    /// '/'). The catalog records it, so that a silo about to sign with another key is refused (<see cref="SigningKeyRecord"/>).
    /// </summary>
    public string KeyCheck() => Convert.ToBase64String(HMACSHA256.HashData(_key, "orleans-tickets/signing-key-check"u8));

    /// <summary>
    /// A key of its own for another use of this secret (e.g. sealing the export's cursors): an HMAC of a label no
    /// ticket's payload can be (slugs have no '/') and <see cref="KeyCheck"/>'s published label cannot be either (it
    /// has no "derived/"). Anyone holding it can seal that use's messages but not sign a ticket.
    /// </summary>
    public byte[] DeriveKey(string purpose) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("orleans-tickets/derived/" + purpose));

    /// <summary>True when <paramref name="code"/> was made by <see cref="Sign"/> under this key.</summary>
    public bool Verify(string code)
    {
        var lastDot = code.LastIndexOf('.');
        if (lastDot <= 0 || code.Length - lastDot - 1 != MacChars) return false;
        Span<byte> given = stackalloc byte[MacBytes + 2];
        if (Base64Url.DecodeFromChars(code.AsSpan(lastDot + 1), given, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != MacBytes)
        {
            return false;
        }
        Span<byte> expected = stackalloc byte[SHA256.HashSizeInBytes];
        Mac(code.AsSpan(0, lastDot), expected);
        return CryptographicOperations.FixedTimeEquals(given[..MacBytes], expected[..MacBytes]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // A second call must be harmless (IDisposable's contract), and ThreadLocal throws once disposed.
        if (_disposed) return;
        _disposed = true;
        foreach (var hmac in _hmac.Values) hmac.Dispose();
        _hmac.Dispose();
    }

    /// <summary>Writes the full HMAC-SHA256 of <paramref name="payload"/>'s UTF-8 bytes to <paramref name="destination"/>.</summary>
    private void Mac(ReadOnlySpan<char> payload, Span<byte> destination)
    {
        var length = Encoding.UTF8.GetMaxByteCount(payload.Length);
        var rented = length > StackPayloadBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> utf8 = rented is null ? stackalloc byte[StackPayloadBytes] : rented;
        try
        {
            var hmac = _hmac.Value!;
            hmac.AppendData(utf8[..Encoding.UTF8.GetBytes(payload, utf8)]);
            hmac.GetHashAndReset(destination);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
