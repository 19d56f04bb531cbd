namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// Checks a finished sale against the shard databases themselves rather than the service's counters: the ledger
/// must hold every acknowledged order and no other, no shard may have sold beyond what it held, no serial or code may
/// exist twice anywhere, and the service's <c>/sales</c> must agree with the ledger.
/// </summary>
public static class LedgerAudit
{
    public const string ShardWithinCapacity = "ledger: sold <= capacity";
    public const string OrdersStoredOnce = "ledger: each order stored once";
    public const string ShardsStoredOnce = "ledger: each shard stored once";
    public const string AcknowledgedOnce = "ledger: each 2xx a different order";
    public const string ShardCountMatchesTickets = "ledger: sold = ticket rows";
    public const string SerialsUnique = "ledger: serials unique";
    public const string OrdersHoldTheirQuantity = "ledger: tickets = quantity";
    public const string CodesUnique = "ledger: codes unique";
    public const string AcknowledgedStored = "ledger: every 2xx stored";
    public const string StoredAcknowledged = "ledger: every stored order acknowledged";
    public const string TotalsMatchSales = "ledger = /sales";
    public const string NothingStranded = "ledger: remaining = 0";
    public const string TransfersSettled = "ledger: transfers settled";
    public const string ExportMatchesLedger = "export = ledger";
    public const string ExportTicketsSold = "export: tickets sold = ledger";
    public const string CapacityAsOffered = "ledger: capacity = offered";

    /// <summary>How the ids of operators' capacity grants begin (the event grain's <c>AddCapacity</c>).</summary>
    private const string GrantPrefix = "capacity/";

    public static IReadOnlyList<VerificationCheck> Audit(
        LedgerSnapshot ledger, IReadOnlyList<AcknowledgedOrder> acknowledged, SalesSnapshot sales, bool expectSoldOut,
        ExportWalk? exported = null, IReadOnlyDictionary<string, long>? offered = null)
    {
        var checks = new List<VerificationCheck>();
        // An order id stored twice (in two databases, say) is the double sale this audit exists to find: a row, not a crash.
        checks.Add(StoredOnce(OrdersStoredOnce, ledger.Orders, o => o.OrderId, o => o.Database, "orders", "order ids"));
        // So is a shard's row in two databases (a shard that claimed its block in both): each row's count is checked
        // below, and together they may sell its serials twice.
        checks.Add(StoredOnce(ShardsStoredOnce, ledger.Shards, s => s.ShardKey, s => s.Database, "shards", "shards"));
        var orderIds = ledger.Orders.DistinctBy(o => o.OrderId, StringComparer.Ordinal).ToDictionary(o => o.OrderId, StringComparer.Ordinal);
        var ticketsByOrder = ledger.Tickets.ToLookup(t => t.OrderId, StringComparer.Ordinal);
        // Every type any row names, not only the shards' and /sales's: an order or ticket row of a type no shard holds
        // is checked (and fails) rather than passed over.
        var types = ledger.Shards.Select(s => s.TicketTypeId).Union(sales.TicketTypes.Select(t => t.Id))
            .Union(ledger.Orders.Select(o => o.TicketTypeId)).Union(ledger.Tickets.Select(t => t.TicketTypeId))
            .Union(offered?.Keys ?? []).Order(StringComparer.Ordinal);

        foreach (var type in types)
        {
            var shards = ledger.Shards.Where(s => s.TicketTypeId == type).ToList();
            var over = shards.Where(s => s.Sold > s.Capacity).ToList();
            checks.Add(new(ShardWithinCapacity, type, over.Count == 0, over.Count == 0
                ? $"{shards.Count} shards"
                : $"{over.Count} shards oversold, e.g. {over[0].ShardKey}: sold {over[0].Sold} of {over[0].Capacity}"));

            var typeOrders = ledger.Orders.Where(o => o.TicketTypeId == type).ToList();
            var ticketRows = shards.DistinctBy(s => s.ShardKey, StringComparer.Ordinal).ToDictionary(s => s.ShardKey, _ => 0L, StringComparer.Ordinal);
            foreach (var order in typeOrders)
            {
                ticketRows[order.ShardKey] = ticketRows.GetValueOrDefault(order.ShardKey) + ticketsByOrder[order.OrderId].Count();
            }
            var mismatched = shards.Where(s => ticketRows[s.ShardKey] != s.Sold).ToList();
            // Rows no shard's count can include: orders of a shard with no state row, tickets of no stored order.
            var unplaced = ticketRows.Keys.Where(key => shards.All(s => s.ShardKey != key)).ToList();
            var orphans = ledger.Tickets.Where(t => t.TicketTypeId == type && !orderIds.ContainsKey(t.OrderId)).ToList();
            var counted = mismatched.Count == 0 && unplaced.Count == 0 && orphans.Count == 0;
            checks.Add(new(ShardCountMatchesTickets, type, counted, counted
                ? $"{ticketRows.Values.Sum()} ticket rows"
                : mismatched.Count > 0
                    ? $"{mismatched.Count} shards disagree, e.g. {mismatched[0].ShardKey}: sold {mismatched[0].Sold}, rows {ticketRows[mismatched[0].ShardKey]}"
                    : unplaced.Count > 0
                        ? $"orders of {unplaced.Count} shards with no shard row, e.g. {unplaced[0]}: {ticketRows[unplaced[0]]} ticket rows"
                        : $"{orphans.Count} ticket rows of no stored order, e.g. serial {orphans[0].Serial} of {orphans[0].OrderId}"));

            var serials = ledger.Tickets.Where(t => t.TicketTypeId == type).GroupBy(t => t.Serial).Where(g => g.Count() > 1).ToList();
            checks.Add(new(SerialsUnique, type, serials.Count == 0, serials.Count == 0
                ? $"{ledger.Tickets.Count(t => t.TicketTypeId == type)} serials"
                : $"{serials.Count} serials held twice, e.g. {serials[0].Key} in {string.Join(", ", serials[0].Select(t => t.Database))}"));

            // A stored order short or long of its quantity keeps every count here in step (a shard's sold is its
            // rows), and the answer said the same: only the order's own quantity shows it.
            var wrongSize = typeOrders.Where(o => ticketsByOrder[o.OrderId].Count() != o.Quantity).ToList();
            checks.Add(new(OrdersHoldTheirQuantity, type, wrongSize.Count == 0, wrongSize.Count == 0
                ? $"{typeOrders.Count} orders"
                : $"{wrongSize.Count} orders hold another number of ticket rows than their quantity, e.g. {wrongSize[0].OrderId}: "
                  + $"{ticketsByOrder[wrongSize[0].OrderId].Count()} of {wrongSize[0].Quantity}"));

            var typeSales = sales.TicketTypes.FirstOrDefault(t => t.Id == type);
            var sold = shards.Sum(s => s.Sold);
            var inTransit = ledger.TransfersOut.Where(t => t.TicketTypeId == type && !t.Delivered).Sum(t => t.Quantity);
            var unsold = shards.Sum(s => s.Capacity - s.Sold) + inTransit;
            var agrees = typeSales is not null && typeSales.Sold == sold && typeSales.Capacity == sold + unsold && typeSales.Remaining == unsold;
            checks.Add(new(TotalsMatchSales, type, agrees, typeSales is null
                ? "the type is missing from /sales"
                : $"ledger sold {sold} unsold {unsold}; /sales sold {typeSales.Sold} remaining {typeSales.Remaining} capacity {typeSales.Capacity}"));
            if (expectSoldOut) checks.Add(new(NothingStranded, type, unsold == 0, $"{unsold} unsold ({inTransit} in transit)"));
            // The totals check compares the ledger with /sales, which the service computes from the same rows: a grant
            // taken in that no operator made, or a block claimed at the wrong size, passes it. Only a count kept apart
            // from the service shows that.
            if (offered is not null)
            {
                var expected = offered.GetValueOrDefault(type);
                checks.Add(new(CapacityAsOffered, type, sold + unsold == expected,
                    $"ledger holds {sold + unsold} (sold {sold}, unsold {unsold}); {expected} were offered"));
            }
        }

        var codes = Repeated(ledger.Tickets, t => t.Code);
        checks.Add(new(CodesUnique, VerificationCheck.WholeEvent, codes.Count == 0,
            codes.Count == 0 ? $"{ledger.Tickets.Count} codes" : $"{codes.Count} codes held twice, e.g. {codes[0].Key}"));

        var missing = acknowledged.Where(a => !orderIds.TryGetValue(a.OrderId, out var stored) || !SameOrder(a, stored, ticketsByOrder[a.OrderId])).ToList();
        checks.Add(new(AcknowledgedStored, VerificationCheck.WholeEvent, missing.Count == 0, missing.Count == 0
            ? $"{acknowledged.Count} acknowledged orders found with their type, quantity, tickets and buyer"
            : $"{missing.Count} acknowledged orders missing or different, e.g. {missing[0].OrderId}"));

        // A stored order no buyer was told of holds tickets nobody can use: a stranded sale, which every count above
        // includes. Every buyer's request ends acknowledged or provably without an order (the run asks again with
        // the key after the sale), so in a finished run each stored order belongs to one acknowledged answer.
        var acknowledgedIds = acknowledged.Select(a => a.OrderId).ToHashSet(StringComparer.Ordinal);
        // Each acknowledged request is one buyer's order. Two told the same order (two keys, one order) means one of
        // them holds nothing, which every count above still agrees with.
        var toldTwice = RepeatedKeys(acknowledged, a => a.OrderId);
        checks.Add(new(AcknowledgedOnce, VerificationCheck.WholeEvent, toldTwice.Count == 0, toldTwice.Count == 0
            ? $"{acknowledged.Count} acknowledged orders"
            : $"{toldTwice.Count} orders acknowledged to more than one request, e.g. {toldTwice[0]}"));
        var untold = orderIds.Keys.Where(id => !acknowledgedIds.Contains(id)).Order(StringComparer.Ordinal).ToList();
        checks.Add(new(StoredAcknowledged, VerificationCheck.WholeEvent, untold.Count == 0, untold.Count == 0
            ? $"{orderIds.Count} stored orders, each acknowledged"
            : $"{untold.Count} stored orders no buyer was acknowledged, e.g. {untold[0]}"));

        var takenIn = ledger.TransfersIn.ToHashSet(StringComparer.Ordinal);
        var open = ledger.TransfersOut.Where(t => !takenIn.Contains(t.TransferId) || !t.Delivered).Select(t => t.TransferId).ToList();
        // Taken in twice, or with no donor's record: tickets counted into capacity that nobody gave. Operators' grants
        // ("capacity/<event>/<n>") come from the catalog, not from a shard, so no shard records giving them; their count
        // is what "capacity = offered" and the totals check.
        var given = ledger.TransfersOut.Select(t => t.TransferId).ToHashSet(StringComparer.Ordinal);
        var takenTwice = RepeatedKeys(ledger.TransfersIn, id => id);
        var neverGiven = ledger.TransfersIn.Where(id => !given.Contains(id) && !id.StartsWith(GrantPrefix, StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal).ToList();
        var settled = open.Count == 0 && takenTwice.Count == 0 && neverGiven.Count == 0;
        checks.Add(new(TransfersSettled, VerificationCheck.WholeEvent, settled, settled
            ? $"{ledger.TransfersOut.Count} transfers, each taken in once"
            : $"{open.Count} not settled, {takenTwice.Count} taken in twice, {neverGiven.Count} taken in but never given; e.g. "
              + open.Concat(takenTwice).Concat(neverGiven).First()));
        if (exported is not null)
        {
            checks.Add(CompareExport(ledger, orderIds, ticketsByOrder, exported.Orders));
            // The back office resumes while its pages hold fewer tickets than the last page's count: a count that is
            // missing, or short, would have it stop with orders passed over; one too high, resume for ever.
            var ledgerSold = ledger.Shards.Sum(s => s.Sold);
            checks.Add(new(ExportTicketsSold, VerificationCheck.WholeEvent, exported.TicketsSold == ledgerSold,
                $"the last page says {exported.TicketsSold?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nothing"}; the shards sold {ledgerSold}"));
        }
        return checks;
    }

    /// <summary>Whether each of <paramref name="rows"/> has a key of its own, across the databases; else a few of the culprits.</summary>
    private static VerificationCheck StoredOnce<T>(
        string name, IReadOnlyList<T> rows, Func<T, string> key, Func<T, string> database, string rowsNoun, string keysNoun)
    {
        var twice = Repeated(rows, key);
        return new(name, VerificationCheck.WholeEvent, twice.Count == 0, twice.Count == 0
            ? $"{rows.Count} {rowsNoun}"
            : $"{twice.Count} {keysNoun} stored more than once, e.g. {twice[0].Key} in {string.Join(", ", twice[0].Select(database))}");
    }

    /// <summary>The rows of each key that more than one row has.</summary>
    private static List<IGrouping<string, T>> Repeated<T>(IEnumerable<T> rows, Func<T, string> key) =>
        rows.GroupBy(key, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();

    /// <summary>Each key that more than one of <paramref name="rows"/> has.</summary>
    private static List<string> RepeatedKeys<T>(IEnumerable<T> rows, Func<T, string> key) => [.. Repeated(rows, key).Select(g => g.Key)];

    /// <summary>
    /// The back office's export against the databases: every stored order exactly once, with its stored tickets, and
    /// nothing the databases do not hold.
    /// </summary>
    private static VerificationCheck CompareExport(LedgerSnapshot ledger, IReadOnlyDictionary<string, LedgerOrder> orderIds,
        ILookup<string, LedgerTicket> ticketsByOrder, IReadOnlyList<AcknowledgedOrder> exported)
    {
        var twice = RepeatedKeys(exported, o => o.OrderId);
        var byId = exported.DistinctBy(o => o.OrderId, StringComparer.Ordinal).ToDictionary(o => o.OrderId, StringComparer.Ordinal);
        var missing = ledger.Orders.Where(o => !byId.ContainsKey(o.OrderId)).Select(o => o.OrderId).ToList();
        var extra = exported.Where(o => !orderIds.ContainsKey(o.OrderId)).Select(o => o.OrderId).ToList();
        // Type, quantity, tickets and the buyer it hands to the back office.
        // The export must name each order's buyer: the back office has no one to write to otherwise.
        var different = byId.Values.Where(o => orderIds.TryGetValue(o.OrderId, out var order)
                && (o.Buyer is null || !SameOrder(o, order, ticketsByOrder[o.OrderId])))
            .Select(o => o.OrderId).ToList();
        var passed = twice.Count == 0 && missing.Count == 0 && extra.Count == 0 && different.Count == 0;
        return new(ExportMatchesLedger, VerificationCheck.WholeEvent, passed, passed
            ? $"{exported.Count} exported orders, {exported.Sum(o => (long)o.Tickets.Count)} tickets"
            : $"{missing.Count} missing, {extra.Count} not stored, {twice.Count} twice, {different.Count} with another type, quantity, tickets or buyer; e.g. " +
              missing.Concat(extra).Concat(twice).Concat(different).First());
    }

    /// <summary>
    /// The stored order is the one acknowledged: its type, quantity and tickets, the buyer the request named and the
    /// buyer the answer (or the export) names. The buyer is what the back office processes after the sale, and a
    /// mix-up between orders committed together would pass every count.
    /// </summary>
    private static bool SameOrder(AcknowledgedOrder order, LedgerOrder stored, IEnumerable<LedgerTicket> tickets) =>
        stored.TicketTypeId == order.TicketTypeId && stored.Quantity == order.Quantity && SameTickets(order, stored, tickets)
        && (order.Requested is not { BuyerName: { } name, BuyerEmail: { } email } || (stored.BuyerName == name && stored.BuyerEmail == email))
        && (order.Buyer is null || (stored.BuyerName == order.Buyer.Name && stored.BuyerEmail == order.Buyer.Email));

    /// <summary>
    /// The order's tickets are the rows stored for it, each under the order's type and in the order's database: a row
    /// of another type escapes that type's serial check, and one in another database is not where the order lives.
    /// </summary>
    private static bool SameTickets(AcknowledgedOrder order, LedgerOrder storedOrder, IEnumerable<LedgerTicket> stored)
    {
        if (stored.Any(t => t.TicketTypeId != storedOrder.TicketTypeId || t.Database != storedOrder.Database)) return false;
        var expected = order.Tickets.Select(t => (t.Serial, t.Code)).Order().ToList();
        var actual = stored.Select(t => (t.Serial, t.Code)).Order().ToList();
        return expected.SequenceEqual(actual);
    }
}
