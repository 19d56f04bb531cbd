using System.Buffers.Text;
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
public sealed class TicketCodeSigner
{
    private const int MacBytes = 16;
    private readonly byte[] _key;

    /// <summary>Creates a signer from configured options.</summary>
    public TicketCodeSigner(IOptions<TicketCodeOptions> options)
        : this(Convert.FromBase64String(options.Value.SigningKey
            ?? throw new InvalidOperationException("Tickets:SigningKey is not configured.")))
    {
    }

    /// <summary>Creates a signer from a raw key of at least 32 bytes.</summary>
    public TicketCodeSigner(byte[] key)
    {
        if (key.Length < 32) throw new ArgumentException("The ticket signing key must be at least 32 bytes.", nameof(key));
        _key = key;
    }

    /// <summary>The code of one ticket.</summary>
    public string Sign(string eventId, string ticketTypeId, long serial)
    {
        var payload = string.Create(CultureInfo.InvariantCulture, $"{eventId}.{ticketTypeId}.{serial}");
        return payload + "." + Base64Url.EncodeToString(Mac(payload));
    }

    /// <summary>True when <paramref name="code"/> was made by <see cref="Sign"/> under this key.</summary>
    public bool Verify(string code)
    {
        var lastDot = code.LastIndexOf('.');
        if (lastDot <= 0 || code.Length - lastDot - 1 != 22) return false;
        Span<byte> given = stackalloc byte[MacBytes + 2];
        if (Base64Url.DecodeFromChars(code.AsSpan(lastDot + 1), given, out _, out var written) != System.Buffers.OperationStatus.Done
            || written != MacBytes)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(given[..MacBytes], Mac(code[..lastDot]));
    }

    private byte[] Mac(string payload) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(payload))[..MacBytes];
}
