using OrleansTickets.LoadGenerator.Verification;
using static OrleansTickets.LoadGenerator.Verification.VerificationCheckNames;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The load generator's sale check, fed made-up histories with one known fault each.</summary>
public sealed class SaleVerifierTests
{
    // Two types, each sold out exactly: ga 10 tickets over two shards, vip 4 tickets on one.
    private static List<AcknowledgedOrder> CleanOrders() =>
    [
        Order("o1", "ga", (1, "ga-1"), (2, "ga-2"), (3, "ga-3")),
        Order("o2", "ga", (4, "ga-4"), (5, "ga-5")),
        Order("o3", "ga", (6, "ga-6"), (7, "ga-7"), (8, "ga-8"), (9, "ga-9")),
        Order("o4", "ga", (10, "ga-10")),
        Order("o5", "vip", (1, "vip-1"), (2, "vip-2")),
        Order("o6", "vip", (3, "vip-3"), (4, "vip-4")),
    ];

    private static SalesSnapshot SoldOut() => Sales(("ga", 10, 10, 0), ("vip", 4, 4, 0));

    [Fact]
    public void CleanHistoryPassesEveryCheck()
    {
        var checks = SaleVerifier.Verify(CleanOrders(), SoldOut());

        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name} [{c.Scope}]: {c.Detail}"));
        Assert.True(SaleVerifier.AllPassed(checks));
        // Every per-type check ran for both types, plus the whole-event ones.
        Assert.Equal(2, checks.Count(c => c.Name == SerialsUnique));
        Assert.Single(checks, c => c.Name == TicketCodesUnique);
    }

    [Fact]
    public void DuplicateTicketCodeAcrossTypesIsFound()
    {
        var orders = CleanOrders();
        orders[5] = Order("o6", "vip", (3, "vip-3"), (4, "ga-1"));

        var failed = Failures(orders, SoldOut());

        var finding = Assert.Single(failed);
        Assert.Equal(TicketCodesUnique, finding.Name);
        Assert.Contains("ga-1", finding.Detail);
    }

    [Fact]
    public void SerialSoldTwiceIsFound()
    {
        var orders = CleanOrders();
        orders[3] = Order("o4", "ga", (7, "ga-10"));

        var failed = Failures(orders, SoldOut());

        var finding = Assert.Single(failed);
        Assert.Equal((SerialsUnique, "ga"), (finding.Name, finding.Scope));
        Assert.Contains("7", finding.Detail);
    }

    [Fact]
    public void SameSerialInDifferentTypesIsNotADuplicate()
    {
        // Serials are numbered per type: ga 1 and vip 1 are different tickets.
        Assert.DoesNotContain(Failures(CleanOrders(), SoldOut()), c => c.Name == SerialsUnique);
    }

    [Fact]
    public void AcknowledgedTicketsBeyondCapacityAreAnOversell()
    {
        var orders = CleanOrders();
        orders.Add(Order("o7", "vip", (5, "vip-5")));
        // The service counts the extra ticket as well: sold and acknowledged agree, both above capacity.
        var sales = Sales(("ga", 10, 10, 0), ("vip", 4, 5, 0));

        var failed = Failures(orders, sales);

        Assert.Contains(failed, c => (c.Name, c.Scope) == (NoOversell, "vip"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (SerialsInRange, "vip"));
        Assert.DoesNotContain(failed, c => c.Name == AcknowledgedEqualsSold);
    }

    [Fact]
    public void AcknowledgedTicketsBeyondCapacityAreAnOversellEvenWhenTheServiceCountsNoMore()
    {
        var orders = CleanOrders();
        orders.Add(Order("o7", "vip", (4, "vip-4b")));

        var failed = Failures(orders, SoldOut());

        Assert.Contains(failed, c => (c.Name, c.Scope) == (NoOversell, "vip"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (SerialsUnique, "vip"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (AcknowledgedEqualsSold, "vip"));
    }

    [Fact]
    public void ReportedSoldAboveCapacityIsAnOversell()
    {
        var sales = Sales(("ga", 10, 12, 0), ("vip", 4, 4, 0));

        var failed = Failures(CleanOrders(), sales);

        Assert.Contains(failed, c => (c.Name, c.Scope) == (NoOversell, "ga"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (SoldEqualsCapacity, "ga"));
    }

    [Fact]
    public void SoldTicketsInNoAcknowledgedOrderAreALostOrder()
    {
        var orders = CleanOrders();
        orders.RemoveAt(1);

        var failed = Failures(orders, SoldOut());

        var finding = Assert.Single(failed);
        Assert.Equal((AcknowledgedEqualsSold, "ga"), (finding.Name, finding.Scope));
        Assert.Contains("2 sold tickets", finding.Detail);
    }

    [Fact]
    public void AcknowledgedTicketsMissingFromTheSalesCountAreFound()
    {
        var sales = Sales(("ga", 10, 9, 0), ("vip", 4, 4, 0));

        var failed = Failures(CleanOrders(), sales);

        Assert.Contains(failed, c => (c.Name, c.Scope) == (AcknowledgedEqualsSold, "ga"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (SoldEqualsCapacity, "ga"));
    }

    [Fact]
    public void RemainingTicketsAtTheEndAreFound()
    {
        var orders = CleanOrders();
        orders.RemoveAt(5);
        var sales = Sales(("ga", 10, 10, 0), ("vip", 4, 2, 2));

        var failed = Failures(orders, sales);

        Assert.Contains(failed, c => (c.Name, c.Scope) == (NothingRemaining, "vip"));
        Assert.Contains(failed, c => (c.Name, c.Scope) == (SoldEqualsCapacity, "vip"));
        Assert.DoesNotContain(failed, c => c.Name == AcknowledgedEqualsSold);
    }

    [Fact]
    public void OrderWithFewerTicketsThanOrderedIsFound()
    {
        var orders = CleanOrders();
        orders[3] = orders[3] with { Quantity = 2 };

        var finding = Assert.Single(Failures(orders, SoldOut()));

        Assert.Equal((OrdersHoldTheirQuantity, "ga"), (finding.Name, finding.Scope));
    }

    [Fact]
    public void OrdersForATypeTheSalesReportLacksAreFound()
    {
        var orders = CleanOrders();
        orders.Add(Order("o7", "balcony", (1, "balcony-1")));

        var finding = Assert.Single(Failures(orders, SoldOut()));

        Assert.Equal((KnownTicketType, "balcony"), (finding.Name, finding.Scope));
    }

    [Fact]
    public void OrderIdReusedForTwoOrdersIsFound()
    {
        var orders = CleanOrders();
        orders[1] = orders[1] with { OrderId = "o1" };

        var finding = Assert.Single(Failures(orders, SoldOut()));

        Assert.Equal(OrderIdsUnique, finding.Name);
    }

    [Fact]
    public void ShardsThatDoNotAddUpToTheTypeAreFound()
    {
        var sales = SoldOut();
        var ga = sales.TicketTypes[0];
        sales = sales with
        {
            TicketTypes = [ga with { Shards = [ga.Shards[0] with { Sold = 4 }, ga.Shards[1]] }, sales.TicketTypes[1]],
        };

        var finding = Assert.Single(Failures(CleanOrders(), sales));

        Assert.Equal((ShardsAddUp, "ga"), (finding.Name, finding.Scope));
    }

    [Fact]
    public void TicketsSoldBeyondWhatWasOfferedAreAnOversellEvenWhenTheServiceCountsThemAsCapacity()
    {
        // The service counts a type's capacity from its shards: had a shard been given two serials too many, it would
        // report capacity 12, sold 12 and nothing remaining, and every buyer's tickets would be unique.
        var orders = CleanOrders();
        orders.Add(Order("o7", "ga", (11, "ga-11"), (12, "ga-12")));
        var sales = Sales(("ga", 12, 12, 0), ("vip", 4, 4, 0));
        Assert.Empty(Failures(orders, sales));

        var offered = new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 4 };
        var failed = SaleVerifier.Verify(orders, sales, offered).Where(c => !c.Passed).ToList();

        Assert.Equal([(CapacityAsOffered, "ga"), (NoOversell, "ga"), (SerialsInRange, "ga")], failed.Select(c => (c.Name, c.Scope)));
        Assert.Contains("2 tickets over capacity 10", failed[1].Detail);
    }

    [Fact]
    public void ASaleOfExactlyWhatWasOfferedPassesTheCapacityCheckForEachType()
    {
        var checks = SaleVerifier.Verify(CleanOrders(), SoldOut(), new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 4 });

        Assert.True(SaleVerifier.AllPassed(checks));
        Assert.Equal(["ga", "vip"], checks.Where(c => c.Name == CapacityAsOffered).Select(c => c.Scope));
        // A type the sales report lists but nobody offered fails its capacity check.
        var unoffered = SaleVerifier.Verify(CleanOrders(), SoldOut(), new Dictionary<string, long> { ["ga"] = 10 });
        Assert.Equal((CapacityAsOffered, "vip"), unoffered.Where(c => !c.Passed).Select(c => (c.Name, c.Scope)).First());
    }

    [Fact]
    public void ATypePutOnSaleThatTheSalesReportLeavesOutIsFound()
    {
        // Nobody bought vip and the report does not list it: without the offered list nothing would look at vip at all.
        var orders = CleanOrders().Where(o => o.TicketTypeId == "ga").ToList();

        var failed = SaleVerifier.Verify(orders, Sales(("ga", 10, 10, 0)), new Dictionary<string, long> { ["ga"] = 10, ["vip"] = 4 })
            .Where(c => !c.Passed).ToList();

        var finding = Assert.Single(failed);
        Assert.Equal((TypeReported, "vip"), (finding.Name, finding.Scope));
    }

    [Theory]
    [InlineData("vip", 4)]
    [InlineData("ga", 1)]
    public void AnOrderAnsweredWithAnotherTypeOrQuantityThanAskedIsFound(string askedType, int askedQuantity)
    {
        // o4 holds one ga ticket; the buyer asked for something else, and /sales counts what was sold, so only the
        // request can tell.
        var orders = CleanOrders().Select(o => o with { Requested = new OrderRequested(o.TicketTypeId, o.Quantity) }).ToList();
        orders[0] = orders[0] with { Requested = new OrderRequested(askedType, askedQuantity) };

        var failed = Failures(orders, SoldOut());

        var finding = Assert.Single(failed);
        Assert.Equal(AnswersMatchRequests, finding.Name);
        Assert.Contains("o1", finding.Detail);
    }

    [Fact]
    public void AnOrderAnsweredWithAnotherBuyerThanAskedIsFound()
    {
        // Same type and quantity: only the buyer tells o1's answer from another request's.
        var orders = CleanOrders().Select(o => o with
        {
            Requested = new OrderRequested(o.TicketTypeId, o.Quantity, $"Buyer {o.OrderId}", $"{o.OrderId}@example.test"),
            Buyer = new OrderBuyer($"Buyer {o.OrderId}", $"{o.OrderId}@example.test"),
        }).ToList();
        Assert.Empty(Failures(orders, SoldOut()));
        orders[0] = orders[0] with { Buyer = new OrderBuyer("Buyer o2", "o2@example.test") };

        var finding = Assert.Single(Failures(orders, SoldOut()));

        Assert.Equal(AnswersMatchRequests, finding.Name);
        Assert.Contains("o1 (3 ga for Buyer o2; asked 3 ga for Buyer o1)", finding.Detail);
        // An answer that names no buyer at all cannot be the one a request naming a buyer got.
        orders[0] = orders[0] with { Buyer = null };
        Assert.Contains("o1 (3 ga for no buyer; asked 3 ga for Buyer o1)", Assert.Single(Failures(orders, SoldOut())).Detail);
    }

    [Fact]
    public void A_request_answered_twice_is_found_where_requests_are_named()
    {
        var orders = CleanOrders().Select(o => o with { Requested = new OrderRequested(o.TicketTypeId, o.Quantity, RequestId: o.OrderId) }).ToList();
        Assert.Contains(SaleVerifier.Verify(orders, SoldOut()), c => c.Name == RequestsAnsweredOnce && c.Passed);
        orders[1] = orders[1] with { Requested = orders[1].Requested! with { RequestId = "o1" } };

        var finding = Assert.Single(Failures(orders, SoldOut()));

        Assert.Equal((RequestsAnsweredOnce, "1 repeated requests answered, e.g. o1"), (finding.Name, finding.Detail));
        // Where no request is named (the orders run pairs answers with requests itself), the check is not listed.
        Assert.DoesNotContain(SaleVerifier.Verify(CleanOrders(), SoldOut()), c => c.Name == RequestsAnsweredOnce);
    }

    [Fact]
    public void AnOrderThatNamesNoRequestFailsOnlyWhenEveryRequestMustBeKnown()
    {
        // o1's request is unknown (another client's body whose buyer stated none): unchecked, it could hide any answer.
        var orders = CleanOrders().Select(o => o with { Requested = new OrderRequested(o.TicketTypeId, o.Quantity) }).ToList();
        orders[0] = orders[0] with { Requested = null };

        Assert.Empty(Failures(orders, SoldOut()));
        var finding = Assert.Single(SaleVerifier.Verify(orders, SoldOut(), everyRequestKnown: true), c => !c.Passed);
        Assert.Equal(AnswersMatchRequests, finding.Name);
        Assert.Contains("1 orders name no request they answer, e.g. o1", finding.Detail);
    }

    [Fact]
    public void OrdersAnsweredAsAskedPassAndTheirRequestsSurviveTheOrdersFile()
    {
        var orders = CleanOrders().Select(o => o with { Requested = new OrderRequested(o.TicketTypeId, o.Quantity) }).ToList();
        var json = System.Text.Json.JsonSerializer.Serialize(orders, OrleansTickets.LoadGenerator.Http.LoadJsonContext.Default.ListAcknowledgedOrder);
        var read = System.Text.Json.JsonSerializer.Deserialize(json, OrleansTickets.LoadGenerator.Http.LoadJsonContext.Default.ListAcknowledgedOrder)!;

        Assert.Empty(Failures(read, SoldOut()));
        Assert.All(read, o => Assert.Equal(new OrderRequested(o.TicketTypeId, o.Quantity), o.Requested));
        Assert.Contains("6 orders answered as asked", SaleVerifier.Verify(read, SoldOut()).Single(c => c.Name == AnswersMatchRequests).Detail);
    }

    [Fact]
    public void A_shard_sold_past_its_capacity_is_found_though_the_totals_add_up()
    {
        // Shard 0 sold one ticket too many while shard 1 still holds one: the type's totals are exact, and shard 1's
        // last ticket has in fact been sold already.
        var sales = new SalesSnapshot("festival",
        [
            new("ga", 10, 10, 0, [new(0, 5, 6, -1, "sold-out"), new(1, 5, 4, 1, "open")]),
            new("vip", 4, 4, 0, [new(0, 4, 4, 0, "sold-out")]),
        ]);

        var finding = Assert.Single(Failures(CleanOrders(), sales));

        Assert.Equal((NoShardOversold, "ga"), (finding.Name, finding.Scope));
        Assert.Contains("shard 0 (sold 6 of 5, remaining -1)", finding.Detail);
    }

    [Theory]
    [InlineData("unavailable", true)]
    [InlineData("sold-out", false)]
    public void A_report_with_a_shard_the_service_could_not_count_fails(string status, bool known)
    {
        var sales = new SalesSnapshot("festival",
        [
            new("ga", 10, 10, 0, [new(0, 5, 5, 0, "sold-out"), new(1, 5, 5, 0, status, known)]),
            new("vip", 4, 4, 0, [new(0, 4, 4, 0, "sold-out")]),
        ]);

        var finding = Assert.Single(Failures(CleanOrders(), sales));

        Assert.Equal((ShardsCounted, "ga"), (finding.Name, finding.Scope));
        Assert.Contains("shard 1", finding.Detail);
    }

    [Fact]
    public void A_type_the_service_says_is_not_known_fails_though_every_shard_is()
    {
        // Every shard says it counted, but the service says the type's totals leave out tickets operators added.
        var sales = new SalesSnapshot("festival",
        [
            new("ga", 10, 10, 0, [new(0, 5, 5, 0, "sold-out"), new(1, 5, 5, 0, "sold-out")], Known: false),
            new("vip", 4, 4, 0, [new(0, 4, 4, 0, "sold-out")]),
        ]);

        var finding = Assert.Single(Failures(CleanOrders(), sales));

        Assert.Equal((ShardsCounted, "ga"), (finding.Name, finding.Scope));
        Assert.Contains("operators added", finding.Detail);
    }

    private static List<VerificationCheck> Failures(List<AcknowledgedOrder> orders, SalesSnapshot sales) =>
        SaleVerifier.Verify(orders, sales).Where(c => !c.Passed).ToList();

    private static AcknowledgedOrder Order(string orderId, string ticketTypeId, params (long Serial, string Code)[] tickets) =>
        new(orderId, ticketTypeId, tickets.Length, tickets.Select(t => new IssuedTicket(t.Code, t.Serial)).ToList());

    /// <summary>A sales report; each type's capacity and sales are split over two shards (one when it is small).</summary>
    private static SalesSnapshot Sales(params (string Id, long Capacity, long Sold, long Remaining)[] types) =>
        new("festival", types.Select(t => new TicketTypeSalesSnapshot(t.Id, t.Capacity, t.Sold, t.Remaining, Shards(t))).ToList());

    private static List<ShardSalesSnapshot> Shards((string Id, long Capacity, long Sold, long Remaining) type)
    {
        if (type.Capacity < 10) return [new(0, type.Capacity, type.Sold, type.Remaining, type.Remaining == 0 ? "sold-out" : "open")];
        long firstCapacity = type.Capacity / 2, firstSold = type.Sold / 2, firstRemaining = type.Remaining / 2;
        return
        [
            new(0, firstCapacity, firstSold, firstRemaining, "open"),
            new(1, type.Capacity - firstCapacity, type.Sold - firstSold, type.Remaining - firstRemaining, "open"),
        ];
    }
}
