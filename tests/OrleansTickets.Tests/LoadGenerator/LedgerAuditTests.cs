using OrleansTickets.LoadGenerator.Verification;
using static OrleansTickets.LoadGenerator.Verification.LedgerAudit;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The chaos run's audit, fed made-up ledgers with one known fault each: it must name that fault.</summary>
public sealed class LedgerAuditTests
{
    // ga: 6 tickets over shards 0 and 1 on two databases; shard 1 took 1 ticket from shard 0 by a transfer.
    private static LedgerSnapshot CleanLedger() => new(
        Shards:
        [
            new("db0", "e/ga/0", "ga", 2, 2),
            new("db1", "e/ga/1", "ga", 4, 4),
        ],
        Orders:
        [
            new("db0", "o1", "e/ga/0", "ga", 2),
            new("db1", "o2", "e/ga/1", "ga", 1),
            new("db1", "o3", "e/ga/1", "ga", 3),
        ],
        Tickets:
        [
            new("db0", "ga", 1, "o1", "c1"), new("db0", "ga", 2, "o1", "c2"),
            new("db1", "ga", 4, "o2", "c4"),
            new("db1", "ga", 5, "o3", "c5"), new("db1", "ga", 6, "o3", "c6"), new("db1", "ga", 3, "o3", "c3"),
        ],
        TransfersOut: [new("db0", "t1", "ga", 1, Delivered: true)],
        // t1 from shard 0; an operator's grant from the catalog, which no shard records giving.
        TransfersIn: ["t1", "capacity/e/1"]);

    private static List<AcknowledgedOrder> Acknowledged() =>
    [
        new("o1", "ga", 2, [new("c1", 1), new("c2", 2)]),
        new("o2", "ga", 1, [new("c4", 4)]),
        new("o3", "ga", 3, [new("c5", 5), new("c6", 6), new("c3", 3)]),
    ];

    // The buyers the databases hold for the clean ledger's orders, and the same buyers as the answers and the export name them.
    private static LedgerSnapshot WithBuyers(LedgerSnapshot ledger) =>
        ledger with { Orders = [.. ledger.Orders.Select((o, i) => o with { BuyerName = $"Buyer {i}", BuyerEmail = $"b{i}@example.test" })] };

    private static List<AcknowledgedOrder> WithBuyers(List<AcknowledgedOrder> orders) =>
        [.. orders.Select((o, i) => o with { Buyer = new OrderBuyer($"Buyer {i}", $"b{i}@example.test") })];

    // An export whose last page gives the clean ledger's count of tickets sold (its shards sold 2 and 4).
    private static ExportWalk Export(List<AcknowledgedOrder> orders, long? ticketsSold = 6) => new(orders, ticketsSold);

    private static SalesSnapshot Sales(long capacity = 6, long sold = 6, long remaining = 0) =>
        new("e", [new TicketTypeSalesSnapshot("ga", capacity, sold, remaining, [])]);

    [Fact]
    public void A_clean_ledger_passes_every_check()
    {
        var checks = Audit(CleanLedger(), Acknowledged(), Sales(), expectSoldOut: true);
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
        Assert.Equal(13, checks.Count);
    }

    [Fact]
    public void A_stored_order_short_of_its_quantity_is_caught_though_the_answer_said_the_same()
    {
        // o3 says 3 tickets and holds 2 rows; its answer lists the same 2, and its shard's capacity and sold are one
        // lower to match (as a shard that counts its rows would report): only the order's quantity can tell.
        var ledger = CleanLedger();
        ledger = ledger with
        {
            Shards = [ledger.Shards[0], ledger.Shards[1] with { Capacity = 3, Sold = 3 }],
            Tickets = [.. ledger.Tickets.Where(t => t.Code != "c3")],
        };
        var acknowledged = Acknowledged();
        acknowledged[2] = acknowledged[2] with { Tickets = [new("c5", 5), new("c6", 6)] };

        var failed = Audit(ledger, acknowledged, Sales(capacity: 5, sold: 5), expectSoldOut: true).Where(c => !c.Passed).ToList();

        var finding = Assert.Single(failed);
        Assert.Equal((OrdersHoldTheirQuantity, "ga", "1 orders hold another number of ticket rows than their quantity, e.g. o3: 2 of 3"),
            (finding.Name, finding.Scope, finding.Detail));
    }

    [Fact]
    public void An_oversold_shard_is_caught()
    {
        var ledger = CleanLedger();
        ledger = ledger with
        {
            Shards = [ledger.Shards[0] with { Sold = 3 }, ledger.Shards[1]],
            Orders = [.. ledger.Orders, new("db0", "o4", "e/ga/0", "ga", 1)],
            Tickets = [.. ledger.Tickets, new("db0", "ga", 7, "o4", "c7")],
        };
        var failed = Failed(Audit(ledger, Acknowledged(), Sales(sold: 7), expectSoldOut: true));
        Assert.Contains(ShardWithinCapacity, failed);
    }

    [Fact]
    public void A_serial_sold_in_two_databases_is_caught()
    {
        var ledger = CleanLedger();
        // Shard 1 also sold serial 1, which shard 0 sold: a double sale the per-database primary keys cannot see.
        ledger = ledger with
        {
            Tickets = [.. ledger.Tickets.Where(t => t.Code != "c4"), new("db1", "ga", 1, "o2", "c4")],
        };
        var acknowledged = Acknowledged();
        acknowledged[1] = new("o2", "ga", 1, [new("c4", 1)]);
        var failed = Failed(Audit(ledger, acknowledged, Sales(), expectSoldOut: true));
        Assert.Equal([SerialsUnique], failed);
    }

    [Fact]
    public void An_order_stored_with_another_buyer_than_its_request_named_is_caught()
    {
        // Two orders committed together with their buyers swapped: every count and every ticket still agrees.
        var ledger = CleanLedger();
        ledger = ledger with
        {
            Orders = [ledger.Orders[0] with { BuyerName = "Buyer 2", BuyerEmail = "b2@example.test" },
                ledger.Orders[1] with { BuyerName = "Buyer 1", BuyerEmail = "b1@example.test" }, ledger.Orders[2]],
        };
        var acknowledged = Acknowledged();
        acknowledged[0] = acknowledged[0] with { Requested = new OrderRequested("ga", 2, "Buyer 1", "b1@example.test") };
        acknowledged[1] = acknowledged[1] with { Requested = new OrderRequested("ga", 1, "Buyer 2", "b2@example.test") };
        Assert.Equal([AcknowledgedStored], Failed(Audit(ledger, acknowledged, Sales(), expectSoldOut: true)));

        // The same buyers stored as requested pass.
        acknowledged[0] = acknowledged[0] with { Requested = new OrderRequested("ga", 2, "Buyer 2", "b2@example.test") };
        acknowledged[1] = acknowledged[1] with { Requested = new OrderRequested("ga", 1, "Buyer 1", "b1@example.test") };
        Assert.Empty(Failed(Audit(ledger, acknowledged, Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void An_order_stored_as_another_type_or_quantity_than_acknowledged_is_caught()
    {
        var ledger = CleanLedger();
        var stored = ledger with { Orders = [ledger.Orders[0] with { Quantity = 1 }, ledger.Orders[1], ledger.Orders[2]] };
        Assert.Contains(AcknowledgedStored, Failed(Audit(stored, Acknowledged(), Sales(), expectSoldOut: true)));
        stored = ledger with { Orders = [ledger.Orders[0] with { TicketTypeId = "vip" }, ledger.Orders[1], ledger.Orders[2]] };
        Assert.Contains(AcknowledgedStored, Failed(Audit(stored, Acknowledged(), Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void A_duplicate_code_is_caught()
    {
        var ledger = CleanLedger();
        ledger = ledger with { Tickets = [.. ledger.Tickets.Where(t => t.Code != "c4"), new("db1", "ga", 4, "o2", "c1")] };
        var acknowledged = Acknowledged();
        acknowledged[1] = new("o2", "ga", 1, [new("c1", 4)]);
        Assert.Equal([CodesUnique], Failed(Audit(ledger, acknowledged, Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void A_ticket_row_stored_under_another_type_or_in_another_database_than_its_order_is_caught()
    {
        var ledger = CleanLedger();
        var otherType = ledger with { Tickets = [.. ledger.Tickets.Where(t => t.Code != "c4"), new("db1", "vip", 4, "o2", "c4")] };
        var otherDatabase = ledger with { Tickets = [.. ledger.Tickets.Where(t => t.Code != "c4"), new("db0", "ga", 4, "o2", "c4")] };

        // Under another type, the row also makes a type no shard and no /sales holds.
        Assert.Equal([TotalsMatchSales, AcknowledgedStored], Failed(Audit(otherType, Acknowledged(), Sales(), expectSoldOut: true)).Order());
        Assert.Equal([AcknowledgedStored], Failed(Audit(otherDatabase, Acknowledged(), Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void An_acknowledged_order_missing_from_the_databases_is_caught()
    {
        var acknowledged = Acknowledged();
        acknowledged.Add(new("o9", "ga", 1, [new("c9", 9)]));
        Assert.Equal([AcknowledgedStored], Failed(Audit(CleanLedger(), acknowledged, Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void Sales_that_disagree_with_the_ledger_and_stranded_tickets_are_caught()
    {
        var ledger = CleanLedger();
        // A gift recorded by shard 0 that never reached anyone: 2 tickets unsold and in limbo.
        ledger = ledger with { TransfersOut = [.. ledger.TransfersOut, new("db0", "t2", "ga", 2, Delivered: false)] };
        var failed = Failed(Audit(ledger, Acknowledged(), Sales(), expectSoldOut: true));
        Assert.Equal([TotalsMatchSales, NothingStranded, TransfersSettled], failed.Order());
    }

    [Theory]
    // Each term of the comparison alone: /sales wrong in one number while the ledger is whole and sold out.
    [InlineData(6L, 5L, 0L)]
    [InlineData(7L, 6L, 0L)]
    [InlineData(6L, 6L, 1L)]
    public void Sales_that_disagree_with_a_whole_ledger_in_one_number_are_caught(long capacity, long sold, long remaining)
    {
        var failed = Failed(Audit(CleanLedger(), Acknowledged(), Sales(capacity, sold, remaining), expectSoldOut: true));

        Assert.Equal([TotalsMatchSales], failed);
    }

    [Fact]
    public void A_type_the_ledger_holds_but_sales_leaves_out_is_caught()
    {
        var failed = Failed(Audit(CleanLedger(), Acknowledged(), new SalesSnapshot("e", []), expectSoldOut: true));

        Assert.Equal([TotalsMatchSales], failed);
    }

    [Fact]
    public void A_stored_order_no_buyer_was_acknowledged_is_caught()
    {
        // Committed, counted by its shard and by /sales, and never told to anyone: every count agrees.
        var ledger = CleanLedger();
        ledger = ledger with
        {
            Shards = [ledger.Shards[0] with { Capacity = 3, Sold = 3 }, ledger.Shards[1]],
            Orders = [.. ledger.Orders, new("db0", "o4", "e/ga/0", "ga", 1)],
            Tickets = [.. ledger.Tickets, new("db0", "ga", 7, "o4", "c7")],
        };
        Assert.Equal([StoredAcknowledged], Failed(Audit(ledger, Acknowledged(), Sales(capacity: 7, sold: 7), expectSoldOut: true)));
    }

    [Fact]
    public void Ticket_rows_of_no_stored_order_or_of_a_shard_with_no_row_are_caught()
    {
        var ledger = CleanLedger();
        var orphan = ledger with { Tickets = [.. ledger.Tickets, new("db1", "ga", 9, "ghost", "c9")] };
        Assert.Equal([ShardCountMatchesTickets], Failed(Audit(orphan, Acknowledged(), Sales(), expectSoldOut: true)));

        var unplaced = ledger with
        {
            Orders = [.. ledger.Orders, new("db1", "o5", "e/ga/9", "ga", 1)],
            Tickets = [.. ledger.Tickets, new("db1", "ga", 10, "o5", "c10")],
        };
        var acknowledged = Acknowledged();
        acknowledged.Add(new("o5", "ga", 1, [new("c10", 10)]));
        Assert.Equal([ShardCountMatchesTickets], Failed(Audit(unplaced, acknowledged, Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void Ticket_rows_that_disagree_with_a_shards_count_are_caught()
    {
        var ledger = CleanLedger();
        ledger = ledger with { Tickets = [.. ledger.Tickets.Where(t => t.Code != "c6")] };
        var acknowledged = Acknowledged();
        Assert.Contains(ShardCountMatchesTickets, Failed(Audit(ledger, acknowledged, Sales(), expectSoldOut: true)));
    }

    [Fact]
    public void An_export_that_matches_the_databases_passes()
    {
        var checks = Audit(WithBuyers(CleanLedger()), WithBuyers(Acknowledged()), Sales(), expectSoldOut: true, exported: Export(WithBuyers(Acknowledged())));
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
        Assert.Contains(checks, c => c.Name == ExportMatchesLedger);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("twice")]
    [InlineData("not stored")]
    [InlineData("other tickets")]
    [InlineData("other quantity")]
    [InlineData("other type")]
    [InlineData("no buyer")]
    public void An_export_that_differs_from_the_databases_is_caught(string fault)
    {
        var orders = WithBuyers(Acknowledged());
        List<AcknowledgedOrder> exported = fault switch
        {
            "no buyer" => [orders[0], orders[1] with { Buyer = null }, orders[2]],
            "missing" => [orders[0], orders[2]],
            "twice" => [.. orders, orders[1]],
            "not stored" => [.. orders, new("o9", "ga", 1, [new("c9", 9)])],
            "other quantity" => [orders[0], orders[1] with { Quantity = 2 }, orders[2]],
            "other type" => [orders[0], orders[1] with { TicketTypeId = "vip" }, orders[2]],
            _ => [orders[0], orders[1] with { Tickets = [new("c-forged", 4)] }, orders[2]],
        };
        var failed = Failed(Audit(WithBuyers(CleanLedger()), orders, Sales(), expectSoldOut: true, Export(exported)));
        Assert.Equal([ExportMatchesLedger], failed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(5L)]
    [InlineData(7L)]
    public void An_export_whose_last_page_miscounts_the_tickets_sold_is_caught(long? ticketsSold)
    {
        // Missing or short, the back office would stop walking with orders passed over; too high, it would walk for ever.
        var orders = WithBuyers(Acknowledged());

        var failed = Failed(Audit(WithBuyers(CleanLedger()), orders, Sales(), expectSoldOut: true, Export(orders, ticketsSold)));

        Assert.Equal([ExportTicketsSold], failed);
    }

    [Fact]
    public void An_answer_or_an_export_naming_another_buyer_than_the_databases_hold_is_caught()
    {
        var ledger = WithBuyers(CleanLedger());
        var named = WithBuyers(Acknowledged());
        Assert.Empty(Failed(Audit(ledger, named, Sales(), expectSoldOut: true, exported: Export(named))));

        // The back office would write to someone other than the buyer the databases hold.
        List<AcknowledgedOrder> misnamed = [named[0], named[1] with { Buyer = new OrderBuyer("Buyer 1", "someone@example.test") }, named[2]];
        Assert.Equal([ExportMatchesLedger], Failed(Audit(ledger, named, Sales(), expectSoldOut: true, exported: Export(misnamed))));
        // The buyer was told of an order stored under another name.
        Assert.Equal([AcknowledgedStored], Failed(Audit(ledger, misnamed, Sales(), expectSoldOut: true, exported: Export(named))));
    }

    [Fact]
    public void An_order_stored_in_two_databases_is_a_failed_check_not_a_crash()
    {
        var ledger = CleanLedger();
        // The same order id on a second database, with tickets of its own: two physical sales behind one acknowledgement.
        ledger = ledger with
        {
            Shards = [ledger.Shards[0], ledger.Shards[1] with { Sold = 5, Capacity = 5 }],
            Orders = [.. ledger.Orders, new("db1", "o2", "e/ga/1", "ga", 1)],
            Tickets = [.. ledger.Tickets, new("db1", "ga", 7, "o2", "c7")],
        };
        var failed = Failed(Audit(ledger, Acknowledged(), Sales(capacity: 7, sold: 7), expectSoldOut: true));
        Assert.Contains(OrdersStoredOnce, failed);
    }

    [Fact]
    public void A_shard_stored_in_two_databases_is_a_failed_check_not_a_crash()
    {
        var ledger = CleanLedger();
        // Shard 0 claimed its block in a second database too, and sold its serial 1 there again.
        ledger = ledger with
        {
            Shards = [.. ledger.Shards, new("db1", "e/ga/0", "ga", 2, 1)],
            Orders = [.. ledger.Orders, new("db1", "o4", "e/ga/0", "ga", 1)],
            Tickets = [.. ledger.Tickets, new("db1", "ga", 1, "o4", "c1")],
        };
        var acknowledged = Acknowledged();
        acknowledged.Add(new("o4", "ga", 1, [new("c1", 1)]));
        var failed = Failed(Audit(ledger, acknowledged, Sales(capacity: 7, sold: 7), expectSoldOut: true));
        Assert.Contains(ShardsStoredOnce, failed);
    }

    [Fact]
    public void One_order_acknowledged_to_two_requests_is_caught()
    {
        // Two buyers were told of order o3: one of them holds nothing, and every count agrees with the databases.
        var acknowledged = Acknowledged();
        acknowledged.Add(acknowledged[2]);
        Assert.Equal([AcknowledgedOnce], Failed(Audit(CleanLedger(), acknowledged, Sales(), expectSoldOut: true)));
    }

    [Theory]
    [InlineData("twice")]
    [InlineData("never-given")]
    public void A_transfer_taken_in_twice_or_never_given_is_caught(string fault)
    {
        var ledger = CleanLedger();
        ledger = ledger with { TransfersIn = fault == "twice" ? ["t1", "capacity/e/1", "t1"] : ["t1", "capacity/e/1", "t2"] };
        var check = Assert.Single(Audit(ledger, Acknowledged(), Sales(), expectSoldOut: true), c => c.Name == TransfersSettled);
        Assert.False(check.Passed);
        Assert.Contains(fault == "twice" ? "1 taken in twice" : "1 taken in but never given", check.Detail);
    }

    [Fact]
    public void A_ledger_holding_another_capacity_than_was_offered_is_caught_even_when_sales_agree_with_it()
    {
        // The clean ledger holds 6 ga tickets and /sales says 6: with 6 offered, every check passes, one more than without.
        var offered = new Dictionary<string, long> { ["ga"] = 6 };
        var checks = Audit(CleanLedger(), Acknowledged(), Sales(), expectSoldOut: true, offered: offered);
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
        Assert.Equal(14, checks.Count);

        // 5 offered: one ticket came from nowhere (a grant no operator made), and only a count kept apart says so.
        var failed = Assert.Single(Audit(CleanLedger(), Acknowledged(), Sales(), expectSoldOut: true,
            offered: new Dictionary<string, long> { ["ga"] = 5 }), c => !c.Passed);
        Assert.Equal((CapacityAsOffered, "ga"), (failed.Name, failed.Scope));
        Assert.Contains("ledger holds 6", failed.Detail);

        // A type offered that no database holds.
        var missing = Audit(CleanLedger(), Acknowledged(), Sales(), expectSoldOut: true,
            offered: new Dictionary<string, long> { ["ga"] = 6, ["vip"] = 2 });
        Assert.Contains(missing, c => c is { Name: CapacityAsOffered, Scope: "vip", Passed: false });
    }

    private static List<string> Failed(IReadOnlyList<VerificationCheck> checks) => [.. checks.Where(c => !c.Passed).Select(c => c.Name)];
}
