namespace OrleansTickets.Orders;

/// <summary>
/// What one shard of the ordered type said it could sell, as a home learned it while serving a keyed order: a
/// candidate's answer to the question for room, a holder's refusal, or the home's own count when it forwarded.
/// </summary>
/// <param name="Index">The shard's index within the ordered ticket type.</param>
/// <param name="Sellable">Tickets it could sell when it answered; a hint, as every count a dispatcher keeps is.</param>
[GenerateSerializer, Immutable]
public sealed record ShardSighting(int Index, long Sellable);
