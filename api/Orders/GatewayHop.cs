namespace OrleansTickets.Api.Orders;

/// <summary>
/// Whether this API reaches the dispatchers through a gateway silo (a separate front end) rather than in its own silo.
/// </summary>
/// <remarks>
/// Orleans' client sends a message again when its gateway connection broke while sending it, and the first copy may
/// already have run. If the second copy is then refused (no gateway left), the refusal does not mean "not delivered"
/// as it does in a silo, so a purchase refused this way has an unknown outcome.
/// </remarks>
/// <param name="MayResend">True in a separate front end.</param>
public sealed record GatewayHop(bool MayResend);
