using System.Diagnostics.Metrics;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Counts requests the API refused. A meter listener's callback runs inline, inside the counter's add, and may throw
/// (a broken exporter); let through, it answered the refused request 500 instead of its 503 or 429, and a client that
/// backs off on those would not. What the listener missed is its own loss.
/// </summary>
public sealed class RefusalCounter(Counter<long> counter)
{
    /// <summary>Counts one refusal; never throws.</summary>
    public void Add()
    {
        try
        {
            counter.Add(1);
        }
        catch (Exception)
        {
        }
    }
}
