using OrleansTickets.Orders;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Tickets;

/// <summary>Ticket codes can be told apart from forgeries without a database.</summary>
public sealed class TicketCodeSignerTests
{
    private static readonly TicketCodeSigner Signer = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public void A_signed_code_names_its_ticket_and_verifies()
    {
        var code = Signer.Sign("festival", "vip", 42);
        Assert.StartsWith("festival.vip.42.", code);
        Assert.True(Signer.Verify(code));
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
        foreach (var bad in new[] { "", "festival.ga.17", "festival.ga.x.AAAAAAAAAAAAAAAAAAAAAA", "Festival.ga.1.AAAAAAAAAAAAAAAAAAAAAA", "festival.ga.1.short" })
        {
            Assert.False(OrderId.TryGetShard(bad, out _));
        }
    }
}
