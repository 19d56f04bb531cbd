namespace OrleansTickets.Events;

/// <summary>
/// The event grain knows no event by this id and could not read its storage to find out: "no such event" would be a
/// guess. Asking again later is safe. An <see cref="OrleansException"/>, so the HTTP API answers 503 with Retry-After.
/// </summary>
[GenerateSerializer]
public sealed class CatalogUnavailableException : OrleansException
{
    public CatalogUnavailableException(string message) : base(message)
    {
    }
}
