using System.Collections.Immutable;
using OrleansTickets.Api.Events;
using OrleansTickets.Sales;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// <c>/sales</c> readers share the catalog's reads, so a crowd polling it cannot queue a read each ahead of
/// operators and buyers; nobody is answered from a read that started before they asked.
/// </summary>
public sealed class SharedSalesReadsTests
{
    [Fact]
    public async Task Readers_who_ask_during_a_read_share_the_next_one_and_nobody_gets_an_older_one()
    {
        var reads = new List<(string EventId, TaskCompletionSource<EventSales?> Answer)>();
        var shared = new SharedSalesReads(eventId =>
        {
            var answer = new TaskCompletionSource<EventSales?>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (reads) reads.Add((eventId, answer));
            return answer.Task;
        });

        var first = shared.ReadAsync("festival");
        var during = Enumerable.Range(0, 50).Select(_ => shared.ReadAsync("festival")).ToList();
        var otherEvent = shared.ReadAsync("other");
        Assert.Equal(["festival", "other"], reads.Select(r => r.EventId));

        reads[0].Answer.SetResult(Sales("festival", sold: 1));
        Assert.Equal(1, (await first)!.TicketTypes[0].Sold);
        // The fifty who asked while it ran get nothing from it: one read starts for all of them.
        await Poll.UntilAsync(() => Task.FromResult(reads.Count == 3), attempts: 50, failure: "The shared read never started.");
        Assert.All(during, reader => Assert.False(reader.IsCompleted));
        var late = shared.ReadAsync("festival");

        reads[2].Answer.SetResult(Sales("festival", sold: 2));
        Assert.All(await Task.WhenAll(during), sales => Assert.Equal(2, sales!.TicketTypes[0].Sold));
        Assert.False(late.IsCompleted);
        await Poll.UntilAsync(() => Task.FromResult(reads.Count == 4), attempts: 50, failure: "The late reader's read never started.");
        reads[3].Answer.SetException(new TimeoutException("a shard did not answer"));
        await Assert.ThrowsAsync<TimeoutException>(() => late);

        reads[1].Answer.SetResult(null);
        Assert.Null(await otherEvent);
        // With nothing running, the next reader starts a read of its own at once.
        var again = shared.ReadAsync("festival");
        Assert.Equal(5, reads.Count);
        reads[4].Answer.SetResult(Sales("festival", sold: 3));
        Assert.Equal(3, (await again)!.TicketTypes[0].Sold);
    }

    private static EventSales Sales(string eventId, long sold) =>
        new(eventId, [new TicketTypeSales("ga", 10, sold, 10 - sold, ImmutableArray<ShardSales>.Empty)]);
}
