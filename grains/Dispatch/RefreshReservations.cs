using System.Collections.Immutable;
using OrleansTickets.Sales;

namespace OrleansTickets.Dispatch;

/// <summary>
/// What one refresh of a ticket type found reserved (commits in flight, holds for forwards), and what a wait on those
/// commits needs to turn their outcome into a verdict (PurchaseDispatcherGrain.SettleAsync).
/// </summary>
/// <param name="Refresh">The refresh's number: it serves the requests that arrived before it started.</param>
/// <param name="Reserved">The answers of the shards that reported reserved tickets, as that refresh heard them.</param>
/// <param name="Unsold">The type's unsold tickets by that refresh (ShardCounts); null when it could not count them.</param>
/// <param name="GrantedEver">The catalog's count of tickets ever granted, read before the shards; null when unread.</param>
internal sealed record RefreshReservations(long Refresh, ImmutableArray<ShardSales> Reserved, long? Unsold, long? GrantedEver);
