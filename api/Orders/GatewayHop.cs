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
public sealed record GatewayHop(bool MayResend)
{
    /// <summary>
    /// Whether a grain call that failed with <paramref name="exception"/> may have run all the same, so that its outcome
    /// is unknown: its answer was lost (a timeout, or its silo declared dead before the answer came back), or, behind a
    /// gateway, any failure of the cluster's, which may be the fate of a resent copy whose first copy ran. That includes
    /// a first copy that was never sent (no gateway at all): it cannot be told apart. In a silo's own API any other
    /// failure of the cluster's means the call was not delivered.
    /// </summary>
    public bool MayHaveRun(Exception exception) =>
        exception is TimeoutException or SiloUnavailableException || (MayResend && exception is OrleansException);
}
