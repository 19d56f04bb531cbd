namespace OrleansTickets.Api.Inventory;

/// <summary>
/// The body of <c>POST …/shards/{index}/drain</c>, when one is sent: a drain takes no options, so the only body it
/// accepts is an empty object. Any field in it is refused as unknown (ApiJsonContext), before anything moves.
/// </summary>
public sealed record DrainBody;
