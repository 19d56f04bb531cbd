using OrleansTickets.Catalog;

namespace OrleansTickets.Tests.Grains;

/// <summary>How long the catalog remembers an addition's Idempotency-Key (the grain test is in <see cref="EscrowTests"/>).</summary>
public sealed class CapacityKeyRetentionTests
{
    private static readonly DateTimeOffset Issued = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_key_is_remembered_for_the_retention_and_then_forgotten()
    {
        var state = StateWith(("ops-1", "capacity/e/1"));

        Assert.NotNull(state.RememberedGrant("ops-1", Issued + TicketEventState.KeyRetention - TimeSpan.FromSeconds(1)));
        Assert.Null(state.RememberedGrant("ops-1", Issued + TicketEventState.KeyRetention));
        state.ForgetExpiredKeys(Issued + TicketEventState.KeyRetention);
        Assert.Empty(state.GrantsByKey);
    }

    [Fact]
    public void The_key_of_a_grant_still_waiting_for_a_shard_is_kept_past_the_retention()
    {
        // A retry must still find the grant it made while a shard has yet to take it in: forgetting the key would make
        // a second grant of new serials for the same request.
        var state = StateWith(("waiting", "capacity/e/1"), ("delivered", "capacity/e/2"));
        state.PendingGrants.Add(new CapacityGrant { TransferId = "capacity/e/1", TicketTypeId = "ga", FirstSerial = 11, Quantity = 5 });
        var later = Issued + TicketEventState.KeyRetention * 3;

        state.ForgetExpiredKeys(later);

        Assert.Equal(["waiting"], state.GrantsByKey.Keys);
        Assert.Equal("capacity/e/1", state.RememberedGrant("waiting", later)?.TransferId);
    }

    private static TicketEventState StateWith(params (string Key, string TransferId)[] keys)
    {
        var state = new TicketEventState();
        foreach (var (key, transferId) in keys)
        {
            state.GrantsByKey[key] = new KeyedGrant { TicketTypeId = "ga", Quantity = 5, TransferId = transferId, FirstSerial = 11, RememberedFrom = Issued };
        }
        return state;
    }
}
