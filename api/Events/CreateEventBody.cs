using System.Text.Json.Serialization;
using OrleansTickets.Api.Http;

namespace OrleansTickets.Api.Events;

/// <summary>The body of <c>POST /api/events</c>. Every member is nullable so a missing field is reported, not defaulted.</summary>
public sealed record CreateEventBody(string? Id, string? Name, List<TicketTypeBody?>? TicketTypes);

/// <summary>One ticket type in <see cref="CreateEventBody"/>.</summary>
public sealed record TicketTypeBody(
    string? Id, string? Name, [property: JsonConverter(typeof(ExactDecimalConverter))] decimal? Price, string? Currency, int? Capacity,
    int? Shards, int? MaxPerOrder);
