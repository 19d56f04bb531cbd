using Microsoft.AspNetCore.Http.HttpResults;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Api.Orders;
using OrleansTickets.Events;
using OrleansTickets.Inventory;

namespace OrleansTickets.Api.Inventory;

/// <summary>Operators resizing inventory while the sale runs: adding tickets, draining a shard.</summary>
public static class InventoryApi
{
    private const int MaxBodyBytes = 4 * 1024;

    /// <summary>Largest single addition: the cap on a ticket type's capacity at creation. Repeated additions are not capped in total.</summary>
    public const long MaxAddition = EventValidator.MaxCapacity;

    public static IEndpointRouteBuilder MapInventoryApi(this IEndpointRouteBuilder app)
    {
        var types = app.MapGroup("/api/events/{eventId}/ticket-types/{typeId}").WithTags("Inventory").RequireOperator();
        types.MapPost("/capacity", AddCapacity);
        // The index is parsed here rather than by a route constraint: "abc" or an index past int's range would otherwise
        // match no route, and the operator would read "nothing is served at this path" instead of "no such shard".
        types.MapPost("/shards/{index}/drain", DrainShard);
        return app;
    }

    public static async Task<Results<Created<CapacityResponse>, Ok<CapacityResponse>, Accepted<CapacityResponse>, ProblemHttpResult>> AddCapacity(
        string eventId, string typeId, HttpContext context, IGrainFactory grains, GatewayHop hop, IHostApplicationLifetime lifetime)
    {
        var request = context.Request;
        var (body, problem) = await JsonBody.ReadUnlessStoppingAsync(context, ApiJsonContext.Default.AddCapacityBody, MaxBodyBytes, lifetime,
            "Nothing was added. Retry (with the same Idempotency-Key, if one was sent); another server takes the request.");
        if (problem is not null) return problem;
        var errors = new Dictionary<string, string[]>();
        if (body!.Quantity is not (>= 1 and <= MaxAddition)) errors["quantity"] = [$"Required: 1 to {MaxAddition}."];
        if (body.Shard is < 0) errors["shard"] = ["Must be a shard index (0 or more)."];
        var key = IdempotencyKeyHeader.Read(request, errors);
        QueryParameters.RefuseAny(request, errors);
        if (errors.Count > 0) return Problems.Invalid(errors);

        var (definition, typeProblem) = await FindTypeAsync(grains, eventId, typeId);
        if (typeProblem is not null) return typeProblem;
        if (body.Shard >= definition!.Shards) return Problems.Invalid("shard", $"This ticket type has shards 0 to {definition.Shards - 1}.");

        // Behind a gateway, Orleans' client sends a message again when its connection breaks mid-send, and a copy the
        // first gateway had taken runs twice (GatewayHop): without a key, that made two grants of new serials for one
        // request. A key of this request's own makes the second copy find the first grant. The operator's own retry
        // still needs a key of the operator's.
        var ownKey = key is null && hop.MayResend;
        if (ownKey) key = "request/" + Guid.NewGuid().ToString("N");
        CapacityAddition added;
        try
        {
            added = await grains.GetEventGrain(eventId).AddCapacity(typeId, body.Quantity!.Value, body.Shard, key);
        }
        catch (Exception exception) when (hop.MayHaveRun(exception) || exception is CapacityOutcomeUnknownException)
        {
            // As for a purchase (OrdersApi), and when the catalog's own write failed in a way that may have landed. The
            // catalog stores a grant before any shard hears of it, so the addition may have been made, and the next
            // catalog activation delivers it. "Unavailable, try again" would have an
            // operator without a key add the tickets a second time. Other failures (a refusal in this process) mean
            // it was not delivered, and stay 503 unavailable.
            return Problems.RetryLater(request.HttpContext, Problems.OutcomeUnknown, "The outcome is not known.", key is null || ownKey
                ? $"The tickets may or may not have been added, and without an Idempotency-Key a retry may add them twice. Look at /api/events/{eventId}/sales before trying again, and send a key with every addition."
                : "Retry with the same Idempotency-Key within 24 hours: it returns the addition if one was made, and never makes two.");
        }
        if (added.Status == CapacityStatus.NotFound)
        {
            // The type and shard were found above, and events are never deleted: a catalog activation that knows no event
            // is a new one still reading storage (a membership change), so "try again", not a 404, as for a purchase.
            return Problems.RetryLater(context, Problems.Unavailable, "The event cannot be confirmed right now.",
                key is null || ownKey
                    ? "Nothing was added. Try again shortly."
                    : "Nothing was added by this request. Retry shortly with the same Idempotency-Key.");
        }
        if (added.Status == CapacityStatus.Refused)
        {
            return Problems.Create(StatusCodes.Status409Conflict, Problems.NoShardTakesTickets,
                "Every shard of this ticket type is drained.", "Nothing was added: no shard of this type takes tickets in any more.");
        }
        if (added.Status == CapacityStatus.KeyConflict)
        {
            return Problems.Create(StatusCodes.Status422UnprocessableEntity, Problems.IdempotencyKeyConflict,
                "This Idempotency-Key was used with a different request.", "Use a new key for a different addition; nothing was added.");
        }
        var response = new CapacityResponse(eventId, typeId, added.Status == CapacityStatus.Added ? "added" : "pending",
            added.TransferId!, added.ShardIndex, added.FirstSerial, added.FirstSerial + added.Quantity - 1, added.Quantity);
        var location = $"/api/events/{eventId}/sales";
        // A keyed retry of an addition already made answers 200, as a replayed order or event does: nothing new was made.
        // A repeat under this request's own key is the resent copy of this very request, which did make it.
        if (added.Status == CapacityStatus.Added && added.Repeated && !ownKey)
        {
            // A retry cannot tell whether its first attempt landed, so it must be able to follow the answer either way.
            request.HttpContext.Response.Headers.Location = location;
            return TypedResults.Ok(response);
        }
        return added.Status == CapacityStatus.Added ? TypedResults.Created(location, response) : TypedResults.Accepted(location, response);
    }

    public static async Task<Results<Ok<DrainResponse>, ProblemHttpResult>> DrainShard(
        string eventId, string typeId, string index, HttpContext context, IGrainFactory grains, IHostApplicationLifetime lifetime)
    {
        // Draining again is safe, so a drain needs no key; but a malformed one is refused, as on every other POST: the
        // client meant something by it.
        var errors = new Dictionary<string, string[]>();
        IdempotencyKeyHeader.Read(context.Request, errors);
        QueryParameters.RefuseAny(context.Request, errors);
        if (errors.Count > 0) return Problems.Invalid(errors);
        // A drain has no options, so a body that names one ({"to": 3}, say) asked for something this drain would not
        // do: it is refused before anything moves. No body, or an empty object, is a drain.
        var (_, bodyProblem) = await JsonBody.ReadOptionalUnlessStoppingAsync(context, ApiJsonContext.Default.DrainBody, MaxBodyBytes, lifetime,
            "Nothing moved. Drain again; another server takes the request.");
        if (bodyProblem is not null) return bodyProblem;
        var (definition, typeProblem) = await FindTypeAsync(grains, eventId, typeId);
        if (typeProblem is not null) return typeProblem;
        // One spelling per shard, the one the API gives (in /sales and in order ids): "01" names no shard.
        if (!CanonicalNumber.TryParse(index, out var shard) || shard >= definition!.Shards)
        {
            return Problems.Create(StatusCodes.Status404NotFound, Problems.ShardNotFound, "No such shard.",
                $"Ticket type '{typeId}' has shards 0 to {definition!.Shards - 1}.");
        }
        var drained = await grains.GetGrain<IInventoryShardGrain>(new ShardAddress(eventId, typeId, shard).Key).Drain();
        if (!drained.Available)
        {
            // The shard could not read its database, or its database failed mid-walk and it could not read it back, or
            // another activation of it claimed the shard mid-walk (membership changing): this one's counts say nothing,
            // and draining again answers from what the database holds.
            return Problems.RetryLater(context, Problems.Unavailable, "The shard could not finish the drain.", drained.Moved == 0
                ? "Nothing moved. Drain again shortly: draining twice moves nothing twice."
                : $"{drained.Moved} tickets moved to other shards before the drain was cut short (the shard's database failed, or another activation took the shard over). Drain again to see where things stand.");
        }
        return TypedResults.Ok(new DrainResponse(eventId, typeId, shard, drained.Moved, drained.InTransit, drained.Left));
    }

    private static async Task<(TicketTypeDefinition? Type, ProblemHttpResult? Problem)> FindTypeAsync(
        IGrainFactory grains, string eventId, string typeId)
    {
        if (!Slug.IsValid(eventId)) return (null, EventsApi.EventNotFound(eventId));
        var definition = await grains.GetEventGrain(eventId).GetDefinition();
        if (definition is null) return (null, EventsApi.EventNotFound(eventId));
        var type = Slug.IsValid(typeId) ? definition.FindTicketType(typeId) : null;
        return type is null ? (null, TypeNotFound(eventId, typeId)) : (type, null);
    }

    // Repeated back only when it has a type id's shape (see EventsApi.EventNotFound); the event was found, so its id has.
    private static ProblemHttpResult TypeNotFound(string eventId, string typeId) =>
        Problems.Create(StatusCodes.Status404NotFound, Problems.TicketTypeNotFound, "No such ticket type.", Slug.IsValid(typeId)
            ? $"Event '{eventId}' has no ticket type '{typeId}'."
            : $"Event '{eventId}' has no ticket type with the id given: ticket type ids are {Slug.Rule}.");
}
