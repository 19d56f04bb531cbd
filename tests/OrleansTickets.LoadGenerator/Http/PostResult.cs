namespace OrleansTickets.LoadGenerator.Http;

/// <summary>What a buyer does next after one POST.</summary>
public enum PostResult
{
    /// <summary>201, or 200 on the replay of an order an earlier attempt made.</summary>
    Acknowledged,

    /// <summary>
    /// 409 sold-out or tickets-scattered: definitely no order; the problem says how many tickets one order may still
    /// take (sold-out's <c>remaining</c>, tickets-scattered's <c>largestOrder</c>).
    /// </summary>
    SoldOut,

    /// <summary>503: retry the same request after Retry-After.</summary>
    Unavailable,

    /// <summary>Any other answer, an unreadable body, or no answer at all: the outcome is unknown.</summary>
    Failed,
}
