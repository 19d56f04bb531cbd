using System.Text.Json;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>A buyer's acknowledged orders kept as bytes during the sale and read back whole after it.</summary>
public sealed class AcknowledgedOrderJournalTests
{
    [Fact]
    public void Orders_come_back_in_the_order_kept_with_what_each_request_asked_for_across_chunks()
    {
        var journal = new AcknowledgedOrderJournal();
        // About 700 bytes an order: 500 orders fill every chunk size from the first to the largest, the largest twice.
        for (var i = 0; i < 500; i++)
        {
            var (answer, request) = Exchange(i, quantity: 1 + i % 4, codeLength: 150);
            journal.Add(answer, request);
        }

        var orders = journal.Read();

        Assert.Equal(500, journal.Count);
        Assert.Equal(500, orders.Count);
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal($"order-{i}", orders[i].OrderId);
            Assert.Equal(1 + i % 4, orders[i].Tickets.Count);
            Assert.Equal(new OrderRequested("ga", 1 + i % 4, $"Buyer {i}", $"buyer-{i}@example.test"), orders[i].Requested);
            Assert.Equal(new OrderBuyer($"Buyer {i}", $"buyer-{i}@example.test"), orders[i].Buyer);
        }
    }

    [Fact]
    public void An_answer_larger_than_any_chunk_is_kept_whole_between_ordinary_ones()
    {
        var journal = new AcknowledgedOrderJournal();
        journal.Add(Exchange(0, 1, 10).Answer, Exchange(0, 1, 10).Request);
        journal.Add(Exchange(1, 4, 60_000).Answer, Exchange(1, 4, 60_000).Request);
        journal.Add(Exchange(2, 2, 10).Answer, Exchange(2, 2, 10).Request);

        var orders = journal.Read();

        Assert.Equal(["order-0", "order-1", "order-2"], orders.Select(o => o.OrderId));
        Assert.Equal(60_000, orders[1].Tickets[3].Code.Length);
    }

    [Fact]
    public void An_empty_journal_reads_as_no_orders_and_an_empty_answer_is_refused()
    {
        var journal = new AcknowledgedOrderJournal();
        Assert.Throws<ArgumentException>(() => journal.Add([], "{}"u8));
        Assert.Empty(journal.Read());
    }

    private static (byte[] Answer, byte[] Request) Exchange(int n, int quantity, int codeLength)
    {
        var tickets = Enumerable.Range(0, quantity).Select(t => new IssuedTicket(new string((char)('a' + t), codeLength), n * 10L + t)).ToList();
        var answer = JsonSerializer.SerializeToUtf8Bytes(
            new AcknowledgedOrder($"order-{n}", "ga", quantity, tickets) { Buyer = new OrderBuyer($"Buyer {n}", $"buyer-{n}@example.test") },
            LoadJsonContext.Default.AcknowledgedOrder);
        var request = JsonSerializer.SerializeToUtf8Bytes(
            new OrderBody("ga", quantity, new BuyerBody($"Buyer {n}", $"buyer-{n}@example.test")), LoadJsonContext.Default.OrderBody);
        return (answer, request);
    }
}
