namespace OrleansTickets.Events;

/// <summary>
/// A capacity addition whose write to the catalog's storage failed in a way that may have landed all the same (an
/// answer lost after COMMIT looks like any other failure to the grain): the grant may be stored, and then the next
/// catalog activation delivers it. The HTTP API answers 503 <c>outcome-unknown</c>, never "try again", which would
/// have an operator without a key add the tickets twice. The storage's own failure, whatever its type, arrived at the
/// API as a plain Orleans failure (503 <c>unavailable</c>), so it is named here.
/// </summary>
[GenerateSerializer]
public sealed class CapacityOutcomeUnknownException : OrleansException
{
    public CapacityOutcomeUnknownException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
