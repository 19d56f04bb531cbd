using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;
using OrleansTickets.Export;

namespace OrleansTickets.Api.Export;

/// <summary>The back office collecting an event's orders, with buyers and tickets, during the sale or after it.</summary>
public static class ExportApi
{
    public const int DefaultLimit = 500;
    public const int MaxLimit = IOrderExportGrain.MaxPageSize;
    private const string AfterRule = "Must be the 'next' or 'resume' of an earlier page of this event's export.";
    private const string AfterPastDatabase =
        "A shard database holds less than when this cursor was given (a backup put back?): start the walk again, without 'after'.";
    private const string AfterParameter = "after";
    private const string LimitParameter = "limit";

    // Unknown parameters a refusal names, at most (the first ones): a request line of 32 KB holds thousands of names, and
    // an error for each would answer it with a body forty times its size.
    private const int MaxNamedUnknowns = 10;

    public static IEndpointRouteBuilder MapExportApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/api/events/{eventId}").WithTags("Export").RequireOperator();
        events.MapRead("/orders", ExportOrders);
        return app;
    }

    public static async Task<Results<Ok<OrderExportResponse>, ProblemHttpResult>> ExportOrders(
        string eventId, HttpRequest request, IGrainFactory grains, CancellationToken requestAborted)
    {
        if (!Slug.IsValid(eventId)) return EventsApi.EventNotFound(eventId);
        var errors = new Dictionary<string, string[]>();
        // A misspelt parameter ("cursor", "pageSize") ignored would answer the first page again, and a back office
        // following it would walk page one for ever; one given twice would be read as both joined by a comma.
        var unknown = 0;
        foreach (var (name, values) in request.Query)
        {
            // Names match as the binding did before, in any case (the query's keys compare so).
            var known = string.Equals(name, AfterParameter, StringComparison.OrdinalIgnoreCase)
                || string.Equals(name, LimitParameter, StringComparison.OrdinalIgnoreCase);
            if (!known)
            {
                // Named only when it looks like a name: a query may carry kilobytes, line breaks or direction overrides.
                if (++unknown <= MaxNamedUnknowns) errors[QueryParameters.IsPlainName(name) ? name : "query"] = [$"Unknown parameter: this endpoint takes '{AfterParameter}' and '{LimitParameter}'."];
            }
            else if (values.Count > 1) errors[name] = ["Give it once."];
        }
        if (errors.Count > 0) return Problems.Invalid(errors);
        string? after = request.Query.TryGetValue(AfterParameter, out var afterValue) ? afterValue.ToString() : null;
        string? limit = request.Query.TryGetValue(LimitParameter, out var limitValue) ? limitValue.ToString() : null;
        var size = DefaultLimit;
        // One spelling, as for cursors and shard indexes: "0500" and "+5" are refused.
        if (limit is not null && !(CanonicalNumber.TryParse(limit, out size) && size is >= 1 and <= MaxLimit))
        {
            errors[LimitParameter] = [$"Must be a whole number from 1 to {MaxLimit}, without leading zeros."];
        }
        if (errors.Count > 0) return Problems.Invalid(errors);

        // The cursor is sealed: only the grain, which holds the key, can tell one a page gave from any other text.
        var page = await grains.GetGrain<IOrderExportGrain>(eventId).ReadPage(after, size, requestAborted);
        if (page is null) return EventsApi.EventNotFound(eventId);
        if (page.CursorRefused) return Problems.Invalid(new Dictionary<string, string[]> { [AfterParameter] = [page.DatabaseWentBack ? AfterPastDatabase : AfterRule] });
        return TypedResults.Ok(new OrderExportResponse(eventId, page.Orders, page.Next, page.TicketsSold, page.Resume));
    }
}
