using System.Text.Json.Serialization;

// The HTTP floor for benchmarks: the same request and a response of the same shape as a real order, with no
// grains and no database behind it. Our orders/s is reported as a fraction of this endpoint's requests/s.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BareJsonContext.Default));
var app = builder.Build();

var orders = 0L;
app.MapPost("/bare/orders", (BareOrderRequest request) =>
{
    var number = Interlocked.Increment(ref orders);
    var tickets = Enumerable.Range(0, Math.Clamp(request.Quantity, 1, 10))
        .Select(i => new BareTicket($"bare.{request.TicketTypeId}.{number}.{i}.AAAAAAAAAAAAAAAAAAAAAA", number * 10 + i)).ToArray();
    var order = new BareOrder($"bare.{request.TicketTypeId}.0.{number:D22}", "bare", request.TicketTypeId, request.Quantity,
        10m, 10m * request.Quantity, "EUR", request.Buyer, tickets, DateTimeOffset.UtcNow);
    return TypedResults.Created($"/bare/orders/{order.OrderId}", order);
});
app.Run();

/// <summary>The order request, as the real API reads it.</summary>
public sealed record BareOrderRequest(string TicketTypeId, int Quantity, BareBuyer Buyer);

/// <summary>The buyer part.</summary>
public sealed record BareBuyer(string Name, string Email);

/// <summary>One ticket in the answer.</summary>
public sealed record BareTicket(string Code, long Serial);

/// <summary>An order-shaped answer.</summary>
public sealed record BareOrder(string OrderId, string EventId, string TicketTypeId, int Quantity, decimal UnitPrice,
    decimal Total, string Currency, BareBuyer Buyer, BareTicket[] Tickets, DateTimeOffset CreatedAt);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(BareOrderRequest))]
[JsonSerializable(typeof(BareOrder))]
internal sealed partial class BareJsonContext : JsonSerializerContext;
