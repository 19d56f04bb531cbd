namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>The checks <see cref="SaleVerifier"/> runs; tests and scripts match on these names.</summary>
public static class VerificationCheckNames
{
    public const string CapacityAsOffered = "capacity = offered";
    public const string SoldEqualsCapacity = "sold = capacity";
    public const string NothingRemaining = "remaining = 0";
    public const string ShardsAddUp = "shards add up";
    public const string NoShardOversold = "no shard oversold";
    public const string ShardsCounted = "shards counted";
    public const string NoOversell = "no oversell";
    public const string AcknowledgedEqualsSold = "acknowledged = sold";
    public const string OrdersHoldTheirQuantity = "tickets = quantity";
    public const string SerialsInRange = "serials in 1..capacity";
    public const string SerialsUnique = "serials unique";
    public const string KnownTicketType = "known ticket type";
    public const string TypeReported = "type in /sales";
    public const string AnswersMatchRequests = "answer = request";
    public const string RequestsAnsweredOnce = "each request answered once";
    public const string TicketCodesUnique = "ticket codes unique";
    public const string OrderIdsUnique = "order ids unique";
    public const string EveryRequestAnswered = "every request answered";
}
