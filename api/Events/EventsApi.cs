using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;
using OrleansTickets.Sales;

namespace OrleansTickets.Api.Events;

/// <summary>Creating events and reading them and their sales.</summary>
public static class EventsApi
{
    private const int MaxBodyBytes = 1 << 20;

    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        var events = app.MapGroup("/api/events").WithTags("Events");
        events.MapPost("/", CreateEvent).RequireOperator();
        events.MapRead("/{eventId}", GetEvent);
        events.MapRead("/{eventId}/sales", GetSales);
        return app;
    }

    public static async Task<Results<Created<EventResponse>, Ok<EventResponse>, ProblemHttpResult>> CreateEvent(
        HttpContext context, IGrainFactory grains, IHostApplicationLifetime lifetime)
    {
        var request = context.Request;
        var (body, problem) = await JsonBody.ReadUnlessStoppingAsync(context, ApiJsonContext.Default.CreateEventBody, MaxBodyBytes, lifetime,
            "Nothing was created. Retry; another server takes the request.");
        if (problem is not null) return problem;
        var errors = new Dictionary<string, string[]>();
        // A create needs no key (a retry with the same definition is answered as a replay), but a key that breaks the
        // header's rules is refused here as on the other endpoints rather than passed over: the client meant something by it.
        IdempotencyKeyHeader.Read(request, errors);
        QueryParameters.RefuseAny(request, errors);
        var definition = EventValidator.Validate(body!, errors);
        if (definition is null || errors.Count > 0) return Problems.Invalid(errors);

        var grain = grains.GetEventGrain(definition.Id);
        var location = $"/api/events/{definition.Id}";
        var outcome = await grain.Create(definition);
        if (outcome == CreateEventOutcome.Created) return TypedResults.Created(location, ToResponse(definition, sales: null));
        // A retry of a create that got no clear answer (a timeout, a 503 after its write) finds the event its first
        // attempt made: answered like a replay, 200 with the same body. Only a different definition is a clash. The
        // catalog compares, in the same call: a second question could reach a duplicate activation (a membership
        // change) that does not know the event yet, and turn the retry into a 409.
        if (outcome == CreateEventOutcome.Repeated)
        {
            request.HttpContext.Response.Headers.Location = location;
            // The event as it is now, as a read of it gives it: the created body's counts (every ticket left) told a
            // retry long after the create that a sold-out type had all its tickets.
            return TypedResults.Ok(ToResponse(definition, await grain.GetRecentSales()));
        }
        return Problems.Create(StatusCodes.Status409Conflict, Problems.EventExists,
            "An event with this id already exists.", $"Event '{definition.Id}' exists with another definition; nothing was changed.");
    }

    public static async Task<Results<Ok<EventResponse>, ProblemHttpResult>> GetEvent(string eventId, IGrainFactory grains)
    {
        if (!Slug.IsValid(eventId)) return EventNotFound(eventId);
        var grain = grains.GetEventGrain(eventId);
        var definition = await grain.GetDefinition();
        if (definition is null) return EventNotFound(eventId);
        return TypedResults.Ok(ToResponse(definition, await grain.GetRecentSales()));
    }

    public static async Task<Results<Ok<EventSales>, ProblemHttpResult>> GetSales(string eventId, SharedSalesReads reads)
    {
        if (!Slug.IsValid(eventId)) return EventNotFound(eventId);
        var sales = await reads.ReadAsync(eventId);
        return sales is null ? EventNotFound(eventId) : TypedResults.Ok(sales);
    }

    // An id that cannot be an event's is not repeated back: a path may carry kilobytes, line breaks or bidirectional
    // overrides, which DisplayText keeps out of everything else the API says.
    internal static ProblemHttpResult EventNotFound(string eventId) =>
        Problems.Create(StatusCodes.Status404NotFound, Problems.EventNotFound, "No such event.", Slug.IsValid(eventId)
            ? $"Event '{eventId}' does not exist."
            : $"No event has the id given: event ids are {Slug.Rule}.");

    private static EventResponse ToResponse(EventDefinition definition, EventSales? sales) =>
        new(definition.Id, definition.Name, definition.TicketTypes.Select(t =>
        {
            // Without sales (an event just created) nothing is sold yet.
            var live = sales?.TicketTypes.FirstOrDefault(s => s.Id == t.Id);
            var (capacity, remaining) = live is null ? (t.Capacity, t.Capacity) : live.Known ? (live.Capacity, live.Remaining) : ((long?)null, (long?)null);
            return new TicketTypeResponse(t.Id, t.Name, Prices.Canonical(t.Price, t.Currency), t.Currency, capacity, t.Shards, t.MaxPerOrder, remaining);
        }).ToList());
}
