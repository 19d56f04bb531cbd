using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Export;
using OrleansTickets.Api.Health;
using OrleansTickets.Api.Inventory;
using OrleansTickets.Api.Orders;
using OrleansTickets.Orders;
using OrleansTickets.Sales;

namespace OrleansTickets.Api.Http;

/// <summary>Source-generated JSON for every body the API reads or writes: no reflection on the hot path.</summary>
// Web defaults, except that numbers must be JSON numbers ("2" is not a quantity), a field may appear once (with two
// values, whatever read the body before us, a proxy or a log, could disagree with what was sold), and a field we do not
// know is refused: ignored, a misspelt "shardIndex" put an operator's tickets on whichever shard came next, for good,
// and an "idempotencyKey" sent in the body made an order with no key, which a retry could make twice.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, NumberHandling = JsonNumberHandling.Strict, AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(CreateEventBody))]
[JsonSerializable(typeof(CreateOrderBody))]
[JsonSerializable(typeof(EventResponse))]
[JsonSerializable(typeof(OrderDetails))]
[JsonSerializable(typeof(EventSales))]
[JsonSerializable(typeof(AddCapacityBody))]
[JsonSerializable(typeof(CapacityResponse))]
[JsonSerializable(typeof(DrainBody))]
[JsonSerializable(typeof(DrainResponse))]
[JsonSerializable(typeof(OrderExportResponse))]
[JsonSerializable(typeof(ReadinessResponse))]
// Problem extensions are written as objects, by their runtime types, and ASP.NET Core's problem context has no long
// (GeneratedJsonOnly): the sold-out 409's "remaining".
[JsonSerializable(typeof(long))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
