using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using OrleansTickets.Orders;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Tickets;

/// <summary>Ticket codes can be told apart from forgeries without a database.</summary>
public sealed class TicketCodeSignerTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly TicketCodeSigner Signer = new(Key);

    [Fact]
    public void A_signed_code_names_its_ticket_and_verifies()
    {
        var code = Signer.Sign("festival", "vip", 42);
        Assert.StartsWith("festival.vip.42.", code);
        Assert.True(Signer.Verify(code));
    }

    [Fact]
    public void Codes_are_the_truncated_HMAC_SHA256_of_their_payload_on_every_thread()
    {
        // The signer keeps one HMAC per thread and resets it between codes: codes signed in parallel must each
        // still be exactly the MAC of their own payload.
        Parallel.For(0, 4_000, serial =>
        {
            var payload = $"festival.vip.{serial}";
            var mac = HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(payload))[..16];
            Assert.Equal($"{payload}.{Base64Url.EncodeToString(mac)}", Signer.Sign("festival", "vip", serial));
        });
    }

    [Fact]
    public void Payloads_longer_than_the_stack_buffer_sign_and_verify()
    {
        var code = Signer.Sign(new string('e', 300), "vip", 7);
        Assert.True(Signer.Verify(code));
        Assert.False(Signer.Verify(code.Replace(".vip.", ".ga.")));
    }

    [Theory]
    [InlineData("festival.vip.43")]   // another serial
    [InlineData("festival.ga.42")]    // another ticket type
    [InlineData("other.vip.42")]      // another event
    public void Changing_any_part_breaks_the_signature(string payload)
    {
        var mac = Signer.Sign("festival", "vip", 42).Split('.')[^1];
        Assert.False(Signer.Verify($"{payload}.{mac}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("festival.vip.42")]
    [InlineData("festival.vip.42.not-base64!!")]
    [InlineData("festival.vip.42.AAAAAAAAAAAAAAAAAAAAAA")]
    public void Malformed_or_forged_codes_are_rejected(string code) => Assert.False(Signer.Verify(code));

    [Fact]
    public void Another_deployment_key_does_not_verify()
    {
        var otherDeployment = new TicketCodeSigner(Enumerable.Range(2, 32).Select(i => (byte)i).ToArray());
        Assert.False(otherDeployment.Verify(Signer.Sign("festival", "vip", 42)));
    }

    [Fact]
    public void Short_keys_are_refused() => Assert.Throws<ArgumentException>(() => new TicketCodeSigner(new byte[16]));

    [Fact]
    public void Order_ids_locate_their_shard_and_reject_anything_else()
    {
        var id = OrderId.New(new Events.ShardAddress("festival", "ga", 17));
        Assert.True(OrderId.TryGetShard(id, out var shard));
        Assert.Equal(new Events.ShardAddress("festival", "ga", 17), shard);
        Assert.NotEqual(id, OrderId.New(new Events.ShardAddress("festival", "ga", 17)));
        // Ids draw from per-thread pools of random bytes: many ids on many threads never repeat.
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 20_000, _ => ids.Add(OrderId.New(new Events.ShardAddress("festival", "ga", 17))));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var bad in new[] { "", "festival.ga.17", "festival.ga.x.AAAAAAAAAAAAAAAAAAAAAA", "Festival.ga.1.AAAAAAAAAAAAAAAAAAAAAA", "festival.ga.1.short" })
        {
            Assert.False(OrderId.TryGetShard(bad, out _));
        }
    }
}
