using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The audit reads the export as the README tells the back office to: a walk whose pages hold fewer tickets than its
/// last page says were sold ended before orders committed behind a running transaction could be read, and resumes from
/// the cursor its last page gave.
/// </summary>
public sealed class ExportReaderTests
{
    private const string First = """{"orderId":"o-1","ticketTypeId":"ga","quantity":2,"tickets":[{"code":"A","serial":1},{"code":"B","serial":2}]}""";
    private const string Second = """{"orderId":"o-2","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"C","serial":3}]}""";

    [Fact]
    public async Task A_walk_short_of_its_count_resumes_from_its_last_page_s_cursor()
    {
        var asked = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var service = await StandInEndpoint.StartAsync(app => app.MapGet("/api/events/festival/orders", (HttpRequest request) =>
        {
            var after = request.Query["after"].ToString();
            asked.Enqueue(after);
            // The first walk could not read o-2 yet; its last page counts o-2's ticket all the same. Resumed, it gives o-2
            // alone: a reader that walked again from the start would hold o-1 twice.
            return Results.Content(after == "r1"
                ? $$"""{"eventId":"festival","orders":[{{Second}}],"next":null,"ticketsSold":3,"resume":"r2"}"""
                : $$"""{"eventId":"festival","orders":[{{First}}],"next":null,"ticketsSold":3,"resume":"r1"}""", "application/json");
        }));

        var export = await ExportReader.ReadAsync([new Uri(service.Address)], http2: false, "festival", CancellationToken.None);

        Assert.Equal(["o-1", "o-2"], export!.Orders.Select(o => o.OrderId));
        Assert.Equal(3, export.TicketsSold);
        Assert.Equal(["", "r1"], asked);
    }

    [Fact]
    public async Task A_whole_walk_is_read_once()
    {
        var walks = 0;
        await using var service = await StandInEndpoint.StartAsync(app => app.MapGet("/api/events/festival/orders", () =>
        {
            Interlocked.Increment(ref walks);
            return Results.Content($$"""{"eventId":"festival","orders":[{{First}},{{Second}}],"next":null,"ticketsSold":3,"resume":"r1"}""", "application/json");
        }));

        var export = await ExportReader.ReadAsync([new Uri(service.Address)], http2: false, "festival", CancellationToken.None);

        Assert.Equal(2, export!.Orders.Count);
        Assert.Equal(1, walks);
    }
}
