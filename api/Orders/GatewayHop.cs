namespace OrleansTickets.Api.Orders;

/// <summary>
/// Whether this API reaches the dispatchers through a gateway silo (a separate front end) rather than in its own silo.
/// </summary>
/// <remarks>
/// Orleans' client sends a message again when its gateway connection broke while sending it, and the first copy may
/// already have run. If the second copy then fails (refused, no gateway left, the reconnection failed), that failure
/// does not mean "not delivered" as a refusal of the co-hosted API's in-process call to its stateless-worker
/// dispatcher does, so a purchase that fails this way has an unknown outcome.
/// </remarks>
/// <param name="MayResend">True in a separate front end.</param>
public sealed record GatewayHop(bool MayResend);
