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
    public void Disposing_twice_is_harmless_and_a_disposed_signer_signs_nothing()
    {
        var signer = new TicketCodeSigner(Key);
        Assert.NotEmpty(signer.Sign("festival", "vip", 1));
        signer.Dispose();
        signer.Dispose();
        Assert.Throws<ObjectDisposedException>(() => signer.Sign("festival", "vip", 2));
    }

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
    public void Codes_of_known_tickets_are_pinned()
    {
        // Written down once (HMAC-SHA256 by another implementation), so a change in how a code is put together, or a
        // serial as long as a long can be, fails here: codes already sold must keep verifying.
        Assert.Equal("festival.vip.42.OB1qQv5OjSzumMc-MFvL_w", Signer.Sign("festival", "vip", 42));
        Assert.Equal("festival.ga.-9223372036854775808.Phvnw8jIYLhORINWJ1fK0A", Signer.Sign("festival", "ga", long.MinValue));
    }

    [Fact]
    public void Payloads_longer_than_the_stack_buffer_sign_and_verify()
    {
        var eventId = new string('e', 300);
        var code = Signer.Sign(eventId, "vip", 7);
        var mac = HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes($"{eventId}.vip.7"))[..16];
        Assert.Equal($"{eventId}.vip.7.{Base64Url.EncodeToString(mac)}", code);
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
    public void Short_keys_are_refused() => Assert.Throws<ArgumentException>(() => new TicketCodeSigner(Enumerable.Range(1, 31).Select(i => (byte)i).ToArray()));

    [Fact]
    public void Keys_as_long_as_a_random_one_but_made_by_hand_are_refused()
    {
        // 32 zero bytes ("AAAA…="), and a word repeated: as long as a random key, and guessed in a few tries.
        // And a passphrase: enough different letters, but text that every buyer's codes let anyone test guesses against.
        byte[][] weak =
        [
            new byte[32], [.. Enumerable.Repeat("changeme"u8.ToArray(), 4).SelectMany(word => word)], [.. Enumerable.Range(0, 32).Select(i => (byte)(i % 15))],
            "ourfestivalticketsecretpassword2025"u8.ToArray(),
        ];
        foreach (var key in weak)
        {
            Assert.Throws<ArgumentException>(() => new TicketCodeSigner(key));
            Assert.False(TicketCodeSigner.TryParseKey(Convert.ToBase64String(key), out _));
        }
        // Sixteen different values is enough, and a random key passes.
        Assert.True(TicketCodeSigner.TryParseKey(Convert.ToBase64String([.. Enumerable.Range(0, 32).Select(i => (byte)(i % 16))]), out _));
        Assert.True(TicketCodeSigner.TryParseKey(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), out _));
    }

    [Fact]
    public void Order_ids_locate_their_shard_and_reject_anything_else()
    {
        var id = OrderId.New(new Events.ShardAddress("festival", "ga", 17), DateTimeOffset.UtcNow);
        Assert.True(OrderId.TryGetShard(id, out var shard));
        Assert.Equal(new Events.ShardAddress("festival", "ga", 17), shard);
        Assert.NotEqual(id, OrderId.New(new Events.ShardAddress("festival", "ga", 17), DateTimeOffset.UtcNow));
        // Ids draw from per-thread pools of random bytes: many ids on many threads never repeat.
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 20_000, _ => ids.Add(OrderId.New(new Events.ShardAddress("festival", "ga", 17), DateTimeOffset.UtcNow)));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var key = OrderId.KeyOf(id);
        Assert.Equal(OrderId.KeyLength, key.Length);
        Assert.EndsWith("." + key, id, StringComparison.Ordinal);
        var random = key[10..];
        foreach (var bad in new[]
        {
            "", "festival.ga.17", "festival.ga.x.0000000000" + random, "Festival.ga.1.0000000000" + random, "festival.ga.1.short",
            // The shard's index in the one spelling the service writes.
            "festival.ga.01.0000000000" + random,
            // The time part is Crockford base 32: no lower case, no I, L, O or U.
            "festival.ga.1.000000000a" + random, "festival.ga.1.000000000U" + random,
            // The random part is base64url.
            "festival.ga.1.0000000000" + random[..21] + "+", "festival.ga.1.0000000000" + random[..20] + "  ",
        })
        {
            Assert.False(OrderId.TryGetShard(bad, out _), bad);
        }
        Assert.True(OrderId.TryGetShard("festival.ga.1.0000000000" + random, out _));
    }

    [Fact]
    public void An_order_id_tells_when_it_was_minted_to_the_millisecond()
    {
        var minted = DateTimeOffset.FromUnixTimeMilliseconds(1_796_000_123_456);
        Assert.Equal(minted, OrderId.MintedAt(OrderId.New(new Events.ShardAddress("festival", "ga", 17), minted)));
        Assert.Equal(DateTimeOffset.UnixEpoch, OrderId.MintedAt(OrderId.New(new Events.ShardAddress("festival", "ga", 17), DateTimeOffset.UnixEpoch)));
        // The largest time part ten digits can write lies past the calendar's end.
        var random = OrderId.KeyOf(OrderId.New(new Events.ShardAddress("festival", "ga", 1), minted))[10..];
        Assert.Equal(DateTimeOffset.MaxValue, OrderId.MintedAt("festival.ga.1.ZZZZZZZZZZ" + random));
    }

    [Fact]
    public void An_order_id_gives_its_shard_index_only_for_its_own_event_and_type()
    {
        var id = OrderId.New(new Events.ShardAddress("festival", "ga", 317), DateTimeOffset.UtcNow);
        Assert.Equal(317, OrderId.ShardIndexOf(id, "festival", "ga"));
        // Another type whose id shares a prefix, another event, and malformed ids are not this type's.
        Assert.Equal(-1, OrderId.ShardIndexOf(id, "festival", "g"));
        Assert.Equal(-1, OrderId.ShardIndexOf(OrderId.New(new Events.ShardAddress("festival", "ga-vip", 3), DateTimeOffset.UtcNow), "festival", "ga"));
        Assert.Equal(-1, OrderId.ShardIndexOf(id, "fest", "ga"));
        Assert.Equal(-1, OrderId.ShardIndexOf(id, "festival2", "ga"));
        foreach (var bad in new[] { "", "festival.ga", "festival.ga.", "festival.ga..key", "festival.ga.x1.key", "festival.ga.-1.key", "festival.ga.01.key", "festivalXgaX3.key" })
        {
            Assert.Equal(-1, OrderId.ShardIndexOf(bad, "festival", "ga"));
        }
    }

    [Fact]
    public void An_order_id_is_held_by_its_own_shard_only_when_well_formed()
    {
        var shard = new Events.ShardAddress("festival", "ga", 317);
        var id = OrderId.New(shard, DateTimeOffset.UtcNow);
        Assert.True(OrderId.IsHeldBy(id, shard));
        Assert.False(OrderId.IsHeldBy(id, shard with { Index = 31 }));
        Assert.False(OrderId.IsHeldBy(id, shard with { TicketTypeId = "g" }));
        Assert.False(OrderId.IsHeldBy(id, shard with { EventId = "fest" }));
        var key = OrderId.KeyOf(id);
        // As TryGetShard: a part too many, a key of the wrong length or alphabet, a non-canonical index.
        foreach (var bad in new[] { $"festival.ga.317.x.{key}", $"festival.ga.317.{key}x", $"festival.ga.317.{key[..^1]}", $"festival.ga.317.{key[..^1]}.",
            $"festival.ga.0317.{key}", "festival.ga.317.", "festival.ga.317" })
        {
            Assert.False(OrderId.IsHeldBy(bad, shard), bad);
            Assert.False(OrderId.TryGetShard(bad, out var held) && held == shard, bad);
        }
    }

    [Fact]
    public void Order_keys_sort_in_mint_order()
    {
        // Shard databases key orders by this part of the id; ids minted later must sort after, in ordinal order,
        // across the digits' carries and whatever the random part.
        var shard = new Events.ShardAddress("festival", "ga", 3);
        var start = new DateTimeOffset(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);
        var keys = new[] { 0L, 1, 31, 32, 1023, 1024, 86_400_000, 40_000_000_000 }
            .Select(offset => OrderId.KeyOf(OrderId.New(shard, start.AddMilliseconds(offset))))
            .ToList();
        Assert.Equal(keys, keys.Order(StringComparer.Ordinal));
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.Equal("0000000000", OrderId.KeyOf(OrderId.New(shard, DateTimeOffset.UnixEpoch))[..10]);
    }
}
