using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The audit reads the export as the README tells the back office to: a walk whose pages hold fewer tickets than its
/// last page says were sold passed over orders committed during it, and is walked again.
/// </summary>
public sealed class ExportReaderTests
{
    private const string First = """{"orderId":"o-1","ticketTypeId":"ga","quantity":2,"tickets":[{"code":"A","serial":1},{"code":"B","serial":2}]}""";
    private const string Second = """{"orderId":"o-2","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"C","serial":3}]}""";

    [Fact]
    public async Task A_walk_that_passed_over_an_order_is_walked_again()
    {
        var walks = 0;
        await using var service = await StandInEndpoint.StartAsync(app => app.MapGet("/api/events/festival/orders", () =>
            // The first walk missed o-2, committed behind its cursor; its last page counts o-2's ticket all the same.
            Results.Content(Interlocked.Increment(ref walks) == 1
                ? $$"""{"eventId":"festival","orders":[{{First}}],"next":null,"ticketsSold":3}"""
                : $$"""{"eventId":"festival","orders":[{{First}},{{Second}}],"next":null,"ticketsSold":3}""", "application/json")));

        var export = await ExportReader.ReadAsync([new Uri(service.Address)], http2: false, "festival", CancellationToken.None);

        Assert.Equal(["o-1", "o-2"], export!.Orders.Select(o => o.OrderId));
        Assert.Equal(3, export.TicketsSold);
        Assert.Equal(2, walks);
    }

    [Fact]
    public async Task A_whole_walk_is_read_once()
    {
        var walks = 0;
        await using var service = await StandInEndpoint.StartAsync(app => app.MapGet("/api/events/festival/orders", () =>
        {
            Interlocked.Increment(ref walks);
            return Results.Content($$"""{"eventId":"festival","orders":[{{First}},{{Second}}],"next":null,"ticketsSold":3}""", "application/json");
        }));

        var export = await ExportReader.ReadAsync([new Uri(service.Address)], http2: false, "festival", CancellationToken.None);

        Assert.Equal(2, export!.Orders.Count);
        Assert.Equal(1, walks);
    }
}
