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
    TimeSpan WaitingRoom = default,
    TimeSpan WarmUp = default,
    int? ServicePid = null,
    string? DatabaseUser = null)
{
    /// <summary>The first address: where the run reads the event and the sales.</summary>
    public Uri Url => Urls[0];
}
