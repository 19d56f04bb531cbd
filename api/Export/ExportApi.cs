using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;
using OrleansTickets.Export;

namespace OrleansTickets.Api.Export;

/// <summary>The back office collecting an event's orders, with buyers and tickets, after the sale.</summary>
public static class ExportApi
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = IOrderExportGrain.MaxPageSize;
    private const string AfterRule = "Must be the 'next' of an earlier page of this event's export.";

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/api/events/{eventId}").WithTags("Export").RequireOperator();
        events.MapRead("/orders", ExportOrders);
        return app;
    }

    public static async Task<Results<Ok<OrderExportResponse>, ProblemHttpResult>> ExportOrders(
        string eventId, [FromQuery] string? after, [FromQuery] string? limit, IGrainFactory grains,
        CancellationToken requestAborted)
    {
        if (!Slug.IsValid(eventId)) return EventsApi.EventNotFound(eventId);
        var errors = new Dictionary<string, string[]>();
        ExportCursor? cursor = null;
        if (after is not null && !ExportCursor.TryParse(after, out cursor)) errors["after"] = [AfterRule];
        var size = DefaultLimit;
        if (limit is not null && !(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) && size is >= 1 and <= MaxLimit))
        {
            errors["limit"] = [$"Must be a whole number from 1 to {MaxLimit}."];
        }
        if (errors.Count > 0) return Problems.Invalid(errors);

        var page = await grains.GetGrain<IOrderExportGrain>(eventId).ReadPage(cursor, size, requestAborted);
        if (page is null) return EventsApi.EventNotFound(eventId);
        if (page.CursorRefused) return Problems.Invalid(new Dictionary<string, string[]> { ["after"] = [AfterRule] });
        return TypedResults.Ok(new OrderExportResponse(eventId, page.Orders, page.Next?.ToString(), page.TicketsSold));
    }
}
