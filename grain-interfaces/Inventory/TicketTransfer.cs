using System.Collections.Immutable;

namespace OrleansTickets.Inventory;

/// <summary>Unsold serials moving into a shard, from another shard (escrow) or from the catalog (added capacity).</summary>
/// <param name="TransferId">Unique; the receiver takes a transfer in at most once, however often it is delivered.</param>
/// <param name="Donor">The giving shard's key, or <see cref="CapacityDonor"/> for tickets the operators added.</param>
/// <param name="Segments">The serials. The donor no longer owns them once it recorded the transfer.</param>
[GenerateSerializer, Immutable]
public sealed record TicketTransfer(string TransferId, string Donor, ImmutableArray<SerialSegment> Segments)
{
    /// <summary>The donor of tickets the operators added (the catalog's grants).</summary>
    public const string CapacityDonor = "capacity";

    /// <summary>Number of serials moved.</summary>
    public long Quantity => Segments.Sum(s => s.Count);
}
