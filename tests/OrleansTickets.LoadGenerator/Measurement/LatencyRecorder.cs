using HdrHistogram;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// Per-request latency in microseconds. One histogram behind a lock: recording costs tens of nanoseconds, far below
/// a request's cost, and one histogram per buyer would take megabytes at thousands of connections.
/// </summary>
public sealed class LatencyRecorder
{
    private const long HighestMicroseconds = 3_600_000_000;
    private readonly LongHistogram _histogram = new(1, HighestMicroseconds, numberOfSignificantValueDigits: 3);
    private readonly Lock _lock = new();

    public void Record(TimeSpan latency)
    {
        var microseconds = Math.Clamp(latency.Ticks / TimeSpan.TicksPerMicrosecond, 1, HighestMicroseconds);
        lock (_lock) _histogram.RecordValue(microseconds);
    }

    public LatencySummary Summarize()
    {
        lock (_lock)
        {
            if (_histogram.TotalCount == 0) return new LatencySummary(0, 0, 0, 0, 0);
            return new LatencySummary(_histogram.TotalCount,
                Milliseconds(_histogram.GetValueAtPercentile(50)),
                Milliseconds(_histogram.GetValueAtPercentile(95)),
                Milliseconds(_histogram.GetValueAtPercentile(99)),
                Milliseconds(_histogram.GetMaxValue()));
        }
    }

    private static double Milliseconds(long microseconds) => microseconds / 1000.0;
}
