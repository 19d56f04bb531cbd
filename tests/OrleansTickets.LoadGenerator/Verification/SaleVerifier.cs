using static OrleansTickets.LoadGenerator.Verification.VerificationCheckNames;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// Compares what buyers were told (the acknowledged orders) with what the service says it sold, after a sale that
/// should have sold out. Pure: the same inputs give the same rows, so it is tested on made-up histories.
/// </summary>
public static class SaleVerifier
{
    private const int ExamplesShown = 3;

    /// <summary>Every check, passed or not, per ticket type and then for the whole event.</summary>
    /// <param name="orders">What buyers were told.</param>
    /// <param name="sales">What the service reports at the end.</param>
    /// <param name="offered">
    /// The tickets of each type that were put on sale, operators' additions during the sale included, known apart from
    /// <paramref name="sales"/>: the service counts a type's capacity from its shards, so a service that sold more than
    /// it was given would report the larger capacity too, and "sold = capacity" would still hold. Null when unknown.
    /// </param>
    /// <param name="everyRequestKnown">
    /// Whether every order must carry the request it answers. Without it, an answer whose request is unknown is left
    /// out of the comparison: a service that mangled the buyer a request names (<see cref="StatedRequest"/>) would
    /// then pass it.
    /// </param>
    public static IReadOnlyList<VerificationCheck> Verify(
        IReadOnlyCollection<AcknowledgedOrder> orders, SalesSnapshot sales, IReadOnlyDictionary<string, long>? offered = null,
        bool everyRequestKnown = false)
    {
        var checks = new List<VerificationCheck>();
        var ordersByType = orders.ToLookup(o => o.TicketTypeId, StringComparer.Ordinal);
        foreach (var type in sales.TicketTypes)
        {
            long? expected = offered is null ? null : offered.TryGetValue(type.Id, out var count) ? count : 0;
            checks.AddRange(VerifyType(type, ordersByType[type.Id].ToList(), expected));
        }

        var knownTypes = sales.TicketTypes.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var unknown in ordersByType.Where(g => !knownTypes.Contains(g.Key)))
        {
            checks.Add(new(KnownTicketType, unknown.Key, false,
                $"{unknown.Count()} acknowledged orders for a type the sales report does not list"));
        }

        // A type put on sale that the report leaves out would otherwise get no check at all.
        foreach (var missing in (offered?.Keys ?? []).Where(id => !knownTypes.Contains(id)).Order(StringComparer.Ordinal))
        {
            checks.Add(new(TypeReported, missing, false, $"{offered![missing]} tickets were offered, but the sales report does not list the type"));
        }

        checks.Add(AnsweredAsAsked(orders, everyRequestKnown));
        // A client that names each request in its buyer sends each once: two answers naming one are an answer given
        // twice, or one given to another buyer's request (whose own answer then names nobody's).
        if (orders.Any(o => o.Requested?.RequestId is not null))
        {
            checks.Add(Uniqueness(RequestsAnsweredOnce, VerificationCheck.WholeEvent,
                orders.Select(o => o.Requested?.RequestId).OfType<string>(), "requests answered"));
        }

        var codes = orders.SelectMany(o => o.Tickets).Select(t => t.Code);
        checks.Add(Uniqueness(TicketCodesUnique, VerificationCheck.WholeEvent, codes, "ticket codes"));
        checks.Add(Uniqueness(OrderIdsUnique, VerificationCheck.WholeEvent, orders.Select(o => o.OrderId), "order ids"));
        return checks;
    }

    /// <summary>
    /// Whether every request got a definite answer in the end. One that never did may have made an order nobody was
    /// told about, so "acknowledged = sold" could hold with a lost acknowledged order hidden behind it.
    /// </summary>
    /// <param name="unanswered">Requests given up during the sale and still unanswered when asked again after it.</param>
    /// <param name="resolved">Requests given up during the sale that were answered when asked again after it.</param>
    public static VerificationCheck RequestsAnswered(int unanswered, int resolved) =>
        new(EveryRequestAnswered, VerificationCheck.WholeEvent, unanswered == 0, unanswered == 0
            ? resolved == 0 ? "no request given up" : $"{resolved} requests given up during the sale, answered when asked again after it"
            : $"{unanswered} requests still unanswered after the sale: each may hold an order nobody was told about");

    /// <summary>True when every check passed.</summary>
    public static bool AllPassed(IEnumerable<VerificationCheck> checks) => checks.All(c => c.Passed);

    private static IEnumerable<VerificationCheck> VerifyType(TicketTypeSalesSnapshot type, IReadOnlyList<AcknowledgedOrder> orders, long? offered)
    {
        var tickets = orders.SelectMany(o => o.Tickets).ToList();
        long acknowledged = tickets.Count;
        // The bound for an oversell and for serials: what was offered when known, else the service's own count.
        var capacity = offered ?? type.Capacity;

        if (offered is { } given)
        {
            yield return new(CapacityAsOffered, type.Id, type.Capacity == given, type.Capacity == given
                ? $"capacity {type.Capacity}"
                : $"the service reports capacity {type.Capacity}, but {given} tickets were offered");
        }
        yield return new(SoldEqualsCapacity, type.Id, type.Sold == type.Capacity, $"sold {type.Sold} of {type.Capacity}");
        yield return new(NothingRemaining, type.Id, type.Remaining == 0, $"remaining {type.Remaining}");

        long shardCapacity = type.Shards.Sum(s => s.Capacity), shardSold = type.Shards.Sum(s => s.Sold);
        yield return new(ShardsAddUp, type.Id, shardCapacity == type.Capacity && shardSold == type.Sold,
            $"{type.Shards.Count} shards: capacity {shardCapacity}, sold {shardSold}");

        // Totals can hide one shard sold past its tickets behind another still holding them (whose tickets could then be
        // sold again), so each shard is checked on its own too.
        var overShards = type.Shards.Where(s => s.Sold > s.Capacity || s.Remaining < 0).ToList();
        yield return new(NoShardOversold, type.Id, overShards.Count == 0, overShards.Count == 0
            ? $"{type.Shards.Count} shards within their capacity"
            : $"{overShards.Count} shards sold past their capacity, e.g. "
              + string.Join(", ", overShards.Take(ExamplesShown).Select(s => $"shard {s.Index} (sold {s.Sold} of {s.Capacity}, remaining {s.Remaining})")));

        // A shard the service could not count reports a guess (its first block) or stale numbers: every check above
        // rests on the report, so a report with guesses in it proves nothing either way.
        // The type's own word covers one more case: a shard's report that leaves out tickets operators added.
        var guessed = type.Shards.Where(s => !s.Counted).ToList();
        yield return new(ShardsCounted, type.Id, guessed.Count == 0 && type.Known, guessed.Count > 0
            ? $"{guessed.Count} shards' numbers are guesses or stale (unavailable or not known), e.g. shard "
              + string.Join(", ", guessed.Take(ExamplesShown).Select(s => s.Index))
            : type.Known
                ? $"{type.Shards.Count} shards reported their own counts"
                : "the service says the type's totals are not known (a shard's report leaves out tickets operators added)");

        // Two independent witnesses of an oversell: the service's own count and the tickets buyers hold.
        var overSold = Math.Max(type.Sold, acknowledged) - capacity;
        yield return new(NoOversell, type.Id, overSold <= 0, overSold <= 0
            ? $"sold {type.Sold}, acknowledged {acknowledged}, capacity {capacity}"
            : $"{overSold} tickets over capacity {capacity} (sold {type.Sold}, acknowledged {acknowledged})");

        yield return new(AcknowledgedEqualsSold, type.Id, acknowledged == type.Sold, (acknowledged - type.Sold) switch
        {
            0 => $"{acknowledged} tickets in {orders.Count} orders",
            < 0 => $"{type.Sold - acknowledged} sold tickets are in no acknowledged order (lost or unanswered orders)",
            > 0 => $"{acknowledged - type.Sold} acknowledged tickets are missing from the sales count",
        });

        var wrongSize = orders.Where(o => o.Tickets.Count != o.Quantity).ToList();
        yield return new(OrdersHoldTheirQuantity, type.Id, wrongSize.Count == 0, wrongSize.Count == 0
            ? $"{orders.Count} orders"
            : $"{wrongSize.Count} orders hold a different number of tickets than ordered, e.g. "
              + string.Join(", ", wrongSize.Take(ExamplesShown).Select(o => $"{o.OrderId} ({o.Tickets.Count} of {o.Quantity})")));

        var outOfRange = tickets.Where(t => t.Serial < 1 || t.Serial > capacity).Select(t => t.Serial).ToList();
        yield return new(SerialsInRange, type.Id, outOfRange.Count == 0, outOfRange.Count == 0
            ? $"{tickets.Count} serials"
            : $"{outOfRange.Count} serials outside 1..{capacity}, e.g. {string.Join(", ", outOfRange.Take(ExamplesShown))}");

        yield return Uniqueness(SerialsUnique, type.Id, tickets.Select(t => t.Serial), "serials");
    }

    private static VerificationCheck AnsweredAsAsked(IReadOnlyCollection<AcknowledgedOrder> orders, bool everyRequestKnown)
    {
        var asked = orders.Where(o => o.Requested is not null).ToList();
        var mismatched = asked.Where(o => !AsAsked(o, o.Requested!)).ToList();
        var unknown = everyRequestKnown ? orders.Where(o => o.Requested is null).ToList() : [];
        var findings = new List<string>();
        if (mismatched.Count > 0)
        {
            findings.Add($"{mismatched.Count} orders answered with another type, quantity or buyer than asked, e.g. "
                + string.Join(", ", mismatched.Take(ExamplesShown).Select(o =>
                    $"{o.OrderId} ({o.Quantity} {o.TicketTypeId} for {o.Buyer?.Name ?? "no buyer"}; asked {o.Requested!.Quantity} {o.Requested.TicketTypeId} for {o.Requested.BuyerName ?? "?"})")));
        }
        if (unknown.Count > 0)
        {
            findings.Add($"{unknown.Count} orders name no request they answer, e.g. "
                + string.Join(", ", unknown.Take(ExamplesShown).Select(o => o.OrderId)));
        }
        return new(AnswersMatchRequests, VerificationCheck.WholeEvent, findings.Count == 0, findings.Count == 0
            ? $"{asked.Count} orders answered as asked"
            : string.Join("; ", findings));
    }

    /// <summary>
    /// The answer is for the type and quantity asked, and names the buyer the request named where both are known: the
    /// buyer is what the back office processes after the sale, and orders committed together could swap theirs.
    /// </summary>
    private static bool AsAsked(AcknowledgedOrder order, OrderRequested requested) =>
        requested.TicketTypeId == order.TicketTypeId && requested.Quantity == order.Quantity
        && (requested is not { BuyerName: { } name, BuyerEmail: { } email }
            || (order.Buyer is { } buyer && buyer.Name == name && buyer.Email == email));

    private static VerificationCheck Uniqueness<T>(string name, string scope, IEnumerable<T> values, string what)
        where T : notnull
    {
        var seen = new HashSet<T>();
        var duplicates = new List<T>();
        var count = 0;
        foreach (var value in values)
        {
            count++;
            if (!seen.Add(value)) duplicates.Add(value);
        }
        return new(name, scope, duplicates.Count == 0, duplicates.Count == 0
            ? $"{count} {what}"
            : $"{duplicates.Count} repeated {what}, e.g. {string.Join(", ", duplicates.Distinct().Take(ExamplesShown))}");
    }
}
