namespace OrleansTickets.Sales;

/// <summary>One shard's committed sales.</summary>
/// <param name="Index">Shard index within its ticket type.</param>
/// <param name="Capacity">Serials it may sell: its block, less what it gave away, plus what it took in.</param>
/// <param name="Sold">Tickets in committed orders.</param>
/// <param name="Remaining">Capacity minus sold. An unavailable shard keeps its unsold tickets, so they still count.</param>
/// <param name="Status">One of <see cref="ShardStatus"/>'s values.</param>
/// <param name="InTransit">
/// Serials this shard gave away that the receiver has not yet confirmed. They are unsold and counted in the
/// type's remaining until delivered.
/// </param>
/// <param name="TakenIn">
/// Serials this shard has taken in from shards' gifts (its own gifts taken back included) since the sale began;
/// not tickets the operators added. With <paramref name="Settled"/>, it lets a reader correct a set of reports
/// taken at different moments (<see cref="ShardCounts"/>).
/// </param>
/// <param name="Settled">
/// Serials of this shard's gifts that stopped being in transit (taken in by their receiver, or taken back) since the
/// sale began.
/// </param>
/// <param name="Reserved">
/// Of <paramref name="Remaining"/>, tickets held for purchases and gifts this shard is committing now, and for orders
/// a home is about to forward here (a hold, which lapses after about 2 s if the order never comes). They are unsold
/// until their commit lands, so counts of the unsold include them; but no other buyer can have them, which is what a
/// dispatcher choosing where to send an order needs to know.
/// </param>
/// <param name="Known">
/// False when the shard has not read its row since it activated (its database cannot be opened): the numbers are
/// then its first block's, which leave out what it sold, gave, took in and was granted since. False too from an
/// activation a newer one fenced (a membership change): its numbers leave out what the newer one did since. Such a
/// report keeps the shard on the page, but no count of the unsold (and so no "sold out") can rest on it.
/// </param>
/// <param name="Retired">True once the shard was drained: it sells what it holds but takes no tickets in.</param>
/// <param name="GrantedIn">
/// Serials this shard has taken in from operators' grants, ever. The catalog counts the grants it saw each shard take
/// in, so a report that counts fewer is from before a take-in: an activation replaced by a newer one that has not
/// learnt so yet (see <see cref="TicketTypeSales.Known"/>).
/// </param>
[GenerateSerializer, Immutable]
public sealed record ShardSales(int Index, long Capacity, long Sold, long Remaining, string Status, long InTransit = 0,
    long TakenIn = 0, long Settled = 0, long Reserved = 0, bool Known = true, bool Retired = false, long GrantedIn = 0);
