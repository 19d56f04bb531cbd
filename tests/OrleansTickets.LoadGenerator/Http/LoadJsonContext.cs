using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansTickets.LoadGenerator.Bare;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>Source-generated JSON for every body the generator reads or writes, so serialization costs no reflection.</summary>
// A body missing a member the record declares non-null is a broken answer, not an order with a null in it.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web,
    RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(OrderBody))]
[JsonSerializable(typeof(AcknowledgedOrder))]
[JsonSerializable(typeof(List<AcknowledgedOrder>))]
[JsonSerializable(typeof(SoldOutProblem))]
[JsonSerializable(typeof(EventInfo))]
[JsonSerializable(typeof(SalesSnapshot))]
[JsonSerializable(typeof(ExportPage))]
[JsonSerializable(typeof(OrdersRunSummary))]
[JsonSerializable(typeof(BareRunSummary))]
public sealed partial class LoadJsonContext : JsonSerializerContext;
