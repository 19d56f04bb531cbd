using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using OrleansTickets.Orders;

namespace OrleansTickets.Tests.Tickets;

/// <summary>
/// A key's stored fingerprint is compared with every retry's, across versions of the service: the way it is computed may
/// change, the value never.
/// </summary>
public sealed class FingerprintTests
{
    [Theory]
    [InlineData("ga", 1, "Ada Lovelace", "ada@example.com")]
    [InlineData("vip", 4, "José Ñúñez 李小龍 🎟", "jose@example.org")]
    [InlineData("day-sat", 2, "", "")]
    [InlineData("camping", int.MinValue, "Longest quantity", "q@example.com")]
    public void A_fingerprint_is_the_hex_SHA256_of_type_quantity_name_and_email_joined_by_newlines(string type, int quantity, string name, string email)
    {
        var request = new PurchaseRequest("festival", type, quantity, new Buyer(name, email), "key-1");
        var expected = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{type}\n{quantity.ToString(CultureInfo.InvariantCulture)}\n{name}\n{email}")));
        Assert.Equal(expected, request.Fingerprint());
    }

    [Fact]
    public void A_body_too_long_for_the_stack_buffer_has_the_same_fingerprint_rule()
    {
        var name = new string('é', 300);
        var email = new string('x', 250) + "@example.com";
        var request = new PurchaseRequest("festival", "ga", 3, new Buyer(name, email), null);
        var expected = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"ga\n3\n{name}\n{email}")));
        Assert.Equal(expected, request.Fingerprint());
    }

    [Fact]
    public void Unpaired_surrogates_are_hashed_as_the_joined_text_would_be()
    {
        // An unpaired surrogate cannot be encoded: Encoding.UTF8 writes U+FFFD for it, and so must the one-buffer way.
        var name = "Ada \uD800 \uDC00 end\uD83D";
        var request = new PurchaseRequest("festival", "ga", 1, new Buyer(name, "ada@example.com"), "k");
        var expected = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"ga\n1\n{name}\nada@example.com")));
        Assert.Equal(expected, request.Fingerprint());
    }

    [Fact]
    public void The_fingerprint_of_a_known_body_is_pinned()
    {
        // Written down once, so that a change in how the text is built (a separator, a culture's digits) fails here.
        var request = new PurchaseRequest("festival", "ga", 2, new Buyer("Ada", "ada@example.com"), "k");
        Assert.Equal("3F5A7670C6EB9F987BA28BC260DCAD16676FE81DA6A0905D87617BFBF5C2C4DE", request.Fingerprint());
    }
}
