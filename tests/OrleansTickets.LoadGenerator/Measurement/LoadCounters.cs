namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Run-wide tallies, updated lock-free by every buyer and read by the progress line and the report.</summary>
public sealed class LoadCounters
{
    private readonly long[] _statuses = new long[600];
    private long _noResponse;
    private long _ticketsSold;
    private long _orders;
    private long _errors;
    private long _retries;
    private long _requests;

    public long TicketsSold => Interlocked.Read(ref _ticketsSold);
    public long Orders => Interlocked.Read(ref _orders);

    /// <summary>Answers other than 201/200/409 sold-out/503, unreadable bodies, and exchanges with no answer.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Sends of a request that was already sent once, with the same key.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Counts one exchange; <paramref name="statusCode"/> 0 means no response arrived.</summary>
    public void RecordResponse(int statusCode)
    {
        Interlocked.Increment(ref _requests);
        if (statusCode > 0 && statusCode < _statuses.Length) Interlocked.Increment(ref _statuses[statusCode]);
        else Interlocked.Increment(ref _noResponse);
    }

    public void RecordOrder(int tickets)
    {
        Interlocked.Increment(ref _orders);
        Interlocked.Add(ref _ticketsSold, tickets);
    }

    public void RecordError() => Interlocked.Increment(ref _errors);

    public void RecordRetry() => Interlocked.Increment(ref _retries);

    /// <summary>Responses by status code, plus <c>"none"</c> for exchanges that got no response.</summary>
    public SortedDictionary<string, long> StatusCounts()
    {
        var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var status = 0; status < _statuses.Length; status++)
        {
            var count = Interlocked.Read(ref _statuses[status]);
            if (count > 0) counts[status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = count;
        }
        if (Interlocked.Read(ref _noResponse) is var none and > 0) counts["none"] = none;
        return counts;
    }
}
