namespace OrleansTickets.LoadGenerator.Options;

/// <summary>The parsed command line. <see cref="Weights"/> is null when each type's weight is its capacity.</summary>
public sealed record LoadOptions(
    IReadOnlyList<Uri> Urls,
    LoadMode Mode,
    string EventId,
    int Connections,
    IReadOnlyDictionary<string, int>? Weights,
    int MaxQuantity,
    TimeSpan Duration,
    string Path,
    TimeSpan Timeout,
    string? SummaryJson,
    string? OrdersFile = null,
    string? Postgres = null,
    string? SqliteData = null,
    TimeSpan WaitingRoom = default,
    TimeSpan WarmUp = default,
    int? ServicePid = null,
    string? DatabaseUser = null,
    IReadOnlyDictionary<string, int>? Offered = null,
    IReadOnlyDictionary<string, int>? Added = null,
    TimeSpan ThinkTime = default,
    string? LatencyTimeline = null,
    int Http2Connections = 0,
    string? BuyingEndedFile = null)
{
    /// <summary>What <see cref="Transport"/> says without <c>--http2-connections</c>.</summary>
    public const string Http11Transport = "HTTP/1.1, a connection per buyer";

    /// <summary>Whether every request is HTTP/2 (<c>--http2-connections</c> above 0).</summary>
    public bool UsesHttp2 => Http2Connections > 0;

    /// <summary>How the buyers reach the service, for the report and the summary.</summary>
    public string Transport => !UsesHttp2
        ? Http11Transport
        : $"HTTP/2, {Http2Connections} connection{(Http2Connections == 1 ? "" : "s")} per address shared as streams";

    /// <summary>The first address: where the run reads the event and the sales.</summary>
    public Uri Url => Urls[0];

    /// <summary>
    /// The tickets of each type put on sale, additions included: <see cref="Offered"/> (or, when not given,
    /// <paramref name="readBeforeSale"/>) plus <see cref="Added"/>; null when neither is known.
    /// </summary>
    public IReadOnlyDictionary<string, long>? OfferedWithAdditions(IReadOnlyDictionary<string, int>? readBeforeSale = null)
    {
        if ((Offered ?? readBeforeSale) is not { } offered) return null;
        var total = offered.ToDictionary(o => o.Key, o => (long)o.Value, StringComparer.Ordinal);
        foreach (var (type, added) in Added ?? new Dictionary<string, int>()) total[type] = total.GetValueOrDefault(type) + added;
        return total;
    }
}
