namespace OrleansTickets.LoadGenerator.Options;

/// <summary>The parsed command line. <see cref="Weights"/> is null when each type's weight is its capacity.</summary>
public sealed record LoadOptions(
    Uri Url,
    LoadMode Mode,
    string EventId,
    int Connections,
    IReadOnlyDictionary<string, int>? Weights,
    int MaxQuantity,
    TimeSpan Duration,
    string Path,
    TimeSpan Timeout,
    string? SummaryJson);
