using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Orders;

/// <summary>Buying tickets and reading orders.</summary>
public static class OrdersApi
{
    private const int MaxBodyBytes = 16 * 1024;

    public static IEndpointRouteBuilder MapOrdersApi(this IEndpointRouteBuilder app)
    {
        // Made now rather than at the first purchase, so its gauges are there for dashboards from the start.
        try
        {
            app.ServiceProvider.GetRequiredService<PurchaseAdmission>();
        }
        catch (OptionsValidationException)
        {
            // A bad Api:Admission setting: the host's start reports it (ValidateOnStart), as for every other setting,
            // with one line and exit code 1; thrown from here it crashed the process before the start.
        }
        var api = app.MapGroup("/api").WithTags("Orders");
        api.MapPost("/events/{eventId}/orders", CreateOrder);
        api.MapRead("/orders/{orderId}", GetOrder).LimitPerClient();
        return app;
    }

    /// <summary>
    /// 200 with the order and its <c>Location</c>. Usually the answer to a client's retry with its key, but the
    /// dispatcher retries too (a holder slow to answer), so a buyer's first and only request may get it, and must
    /// still learn where its order lives.
    /// </summary>
    private static Ok<OrderDetails> Replayed(HttpContext context, OrderDetails order)
    {
        context.Response.Headers.Location = $"/api/orders/{order.OrderId}";
        return TypedResults.Ok(order);
    }

    public static async Task<Results<Created<OrderDetails>, Ok<OrderDetails>, ProblemHttpResult>> CreateOrder(
        string eventId, HttpContext context, EventDirectory events, GatewayHop hop, PurchaseAdmission admission,
        IHostApplicationLifetime lifetime)
    {
        // A body still arriving when the stop begins is given up: the purchase goes to another server like a queued one.
        var (body, problem) = await JsonBody.ReadUnlessStoppingAsync(context, ApiJsonContext.Default.CreateOrderBody, MaxBodyBytes, lifetime, StoppingDetail);
        if (problem is not null) return problem;
        if (!OrleansTickets.Events.Slug.IsValid(eventId)) return EventsApi.EventNotFound(eventId);

        var errors = new Dictionary<string, string[]>();
        QueryParameters.RefuseAny(context.Request, errors);
        var key = IdempotencyKeyHeader.Read(context.Request, errors);
        var request = OrderValidator.Validate(eventId, body!, key, errors);
        if (request is null) return Problems.Invalid(errors);
        // Before admission: an id that names nothing takes no slot and activates no dispatcher (EventDirectory).
        if (await events.FindAsync(eventId, context.RequestAborted) is not { } known) return EventsApi.EventNotFound(eventId);
        if (known.SaleOf(request.TicketTypeId) is not var (dispatcher, maxPerOrder)) return TicketTypeNotFound(eventId, request.TicketTypeId);
        // The type's own limit is part of the request's validity, so it is checked here too, before admission: past
        // saturation, or while the server stops, an order that can never sell must get its 400, not a 503 that invites
        // retries. The dispatcher checks it again for callers that do not come through this front end.
        if (request.Quantity > maxPerOrder) return TooManyTickets(maxPerOrder);

        // Admitted only now, with the whole body read and valid: a slot stands for work in the cluster (PurchaseAdmission).
        using var slot = await admission.AdmitAsync(context.RequestAborted);
        // Purchases still queued for admission when the stop began would be served one by one and could spend the
        // stop's budget, so they go to another server instead, before anything is sold; so does one that waited its
        // longest meanwhile ("overloaded" would have it retry here).
        if (lifetime.ApplicationStopping.IsCancellationRequested) return Stopping(context);
        if (!slot.IsAcquired)
        {
            return Problems.RetryLater(context, Problems.Overloaded, "Too many purchases at once.",
                "Nothing was sold. Retry after the time in Retry-After (with the same Idempotency-Key, if one was sent).");
        }

        PurchaseResult result;
        try
        {
            result = await dispatcher.Purchase(request);
        }
        catch (Exception exception) when (hop.MayHaveRun(exception))
        {
            // The dispatcher may have had the order made. A plain "unavailable" would invite a retry that, without a
            // key, sells twice.
            result = PurchaseResult.Failed;
        }
        return result.Status switch
        {
            PurchaseStatus.Created => TypedResults.Created($"/api/orders/{result.Order!.OrderId}", result.Order),
            PurchaseStatus.Replayed => Replayed(context, result.Order!),
            PurchaseStatus.SoldOut => Problems.Create(StatusCodes.Status409Conflict, Problems.SoldOut,
                "Not enough tickets left.", SoldOutDetail(request.Quantity),
                new Dictionary<string, object?> { ["remaining"] = result.Remaining }),
            PurchaseStatus.Scattered => Problems.Create(StatusCodes.Status409Conflict, Problems.TicketsScattered,
                "No shard holds this many tickets.", ScatteredDetail(result.Remaining),
                new Dictionary<string, object?> { ["largestOrder"] = result.Remaining }),
            PurchaseStatus.TooManyTickets => TooManyTickets(result.Remaining),
            PurchaseStatus.KeyConflict => Problems.Create(StatusCodes.Status422UnprocessableEntity, Problems.IdempotencyKeyConflict,
                "This Idempotency-Key was used with a different request.", "Use a new key for a different purchase."),
            // The directory found this event and type, and events are never deleted: a dispatcher that could not find
            // them heard from a catalog that cannot say yet (a new activation during a membership change), so the
            // answer is "try again", not a 404 that tells the buyer the event does not exist.
            PurchaseStatus.NotFound => Problems.RetryLater(context, Problems.Unavailable, "The event cannot be confirmed right now.",
                NothingSoldDetail(request.IdempotencyKey)),
            PurchaseStatus.Failed => Problems.RetryLater(context, Problems.OutcomeUnknown, "The outcome is not known.",
                request.IdempotencyKey is null
                    ? "The order may or may not have been made, and without an Idempotency-Key a retry may make a second one. Send a key with every purchase."
                    : "Retry with the same Idempotency-Key: it returns the order if one was made, and never makes two."),
            // Unavailable is a definite refusal: no shard wrote anything.
            _ => Problems.RetryLater(context, Problems.Unavailable, "No shard can sell right now.",
                NothingSoldDetail(request.IdempotencyKey)),
        };
    }

    // A definite refusal speaks for this request alone: an earlier request with the same key may have ended in
    // "outcome unknown" after making its order, and a buyer who read "nothing was sold" as "start again with a new key"
    // would then hold two.
    private static string NothingSoldDetail(string? idempotencyKey) => idempotencyKey is null
        ? "Nothing was sold. Try again shortly."
        : "Nothing was sold by this request. Retry shortly with the same Idempotency-Key: if an earlier request with it made the order, the retry returns that order.";

    private static ProblemHttpResult TooManyTickets(long maxPerOrder) =>
        Problems.Invalid("quantity", maxPerOrder == 1 ? "At most 1 ticket per order." : $"At most {maxPerOrder} tickets per order.");

    // "Fewer than 1 tickets" is what the plain wording says of a one-ticket order: none can be sold, so say that.
    private static string SoldOutDetail(int quantity) => quantity == 1
        ? "No ticket of this type can be sold."
        : $"Fewer than {quantity} tickets of this type can be sold.";

    private static string ScatteredDetail(long largest) =>
        "Nothing was sold. The tickets left of this type are on drained shards, which cannot pool them into one order: "
        + (largest == 1 ? "an order of 1 ticket may still be sold." : $"an order of at most {largest} tickets may still be sold.");

    public static async Task<Results<Ok<OrderDetails>, ProblemHttpResult>> GetOrder(string orderId, IGrainFactory grains, EventDirectory events, CancellationToken cancellation)
    {
        if (!OrderId.TryGetShard(orderId, out var shard)) return OrderNotFound(orderId);
        // A shard is asked only if it exists: a made-up id would otherwise activate the shard it names (EventDirectory).
        if (await events.FindAsync(shard.EventId, cancellation) is not { } known || !known.HasShard(shard.TicketTypeId, shard.Index)) return OrderNotFound(orderId);
        var order = await grains.GetGrain<IInventoryShardGrain>(shard.Key).GetOrder(orderId, cancellation);
        return order is null ? OrderNotFound(orderId) : TypedResults.Ok(order);
    }

    private const string StoppingDetail =
        "Nothing was sold. Retry (with the same Idempotency-Key, if one was sent); another server takes the purchase.";

    private static ProblemHttpResult Stopping(HttpContext context) => Problems.Stopping(context, StoppingDetail);

    private static ProblemHttpResult TicketTypeNotFound(string eventId, string ticketTypeId) =>
        Problems.Create(StatusCodes.Status404NotFound, Problems.TicketTypeNotFound, "No such ticket type.",
            $"Event '{eventId}' has no ticket type '{ticketTypeId}'.");

    // Repeated back only when it has an order id's shape (see EventsApi.EventNotFound).
    private static ProblemHttpResult OrderNotFound(string orderId) =>
        Problems.Create(StatusCodes.Status404NotFound, Problems.OrderNotFound, "No such order.", OrderId.TryGetShard(orderId, out _)
            ? $"Order '{orderId}' does not exist."
            : "No order has the id given: an order id is the orderId a purchase was answered with.");
}
