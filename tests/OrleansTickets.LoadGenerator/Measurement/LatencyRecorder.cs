using System.Diagnostics;
using HdrHistogram;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// Per-request latency in microseconds. Histograms behind one lock: recording costs tens of nanoseconds, far below
/// a request's cost, and one histogram per buyer would take megabytes at thousands of connections. Responses before
/// and after <see cref="Mark"/> go to separate histograms, so the end of a sale can be told from its body; the whole
/// sale is their sum.
/// </summary>
public sealed class LatencyRecorder(LatencyTimeline? timeline = null)
{
    private const long HighestMicroseconds = 3_600_000_000;
    private readonly LongHistogram _beforeMark = NewHistogram();
    private readonly LongHistogram _afterMark = NewHistogram();
    private readonly Lock _lock = new();
    private bool _marked;

    public void Record(TimeSpan latency)
    {
        var microseconds = Math.Clamp(latency.Ticks / TimeSpan.TicksPerMicrosecond, 1, HighestMicroseconds);
        var at = timeline is null ? 0 : Stopwatch.GetTimestamp();
        lock (_lock)
        {
            (_marked ? _afterMark : _beforeMark).RecordValue(microseconds);
            timeline?.Add(at, microseconds);
        }
    }

    /// <summary>From now on responses count as after the mark.</summary>
    public void Mark()
    {
        lock (_lock) _marked = true;
    }

    /// <summary>Every response recorded.</summary>
    public LatencySummary Summarize()
    {
        HistogramBase all;
        lock (_lock)
        {
            all = _beforeMark.Copy();
            all.Add(_afterMark);
        }
        return Summarize(all);
    }

    /// <summary>The responses recorded before <see cref="Mark"/>.</summary>
    public LatencySummary SummarizeBeforeMark() => Summarize(_beforeMark);

    /// <summary>The responses recorded after <see cref="Mark"/>.</summary>
    public LatencySummary SummarizeAfterMark() => Summarize(_afterMark);

    private LatencySummary Summarize(HistogramBase histogram)
    {
        lock (_lock)
        {
            if (histogram.TotalCount == 0) return new LatencySummary(0, 0, 0, 0, 0);
            return new LatencySummary(histogram.TotalCount,
                Milliseconds(histogram.GetValueAtPercentile(50)),
                Milliseconds(histogram.GetValueAtPercentile(95)),
                Milliseconds(histogram.GetValueAtPercentile(99)),
                Milliseconds(histogram.GetMaxValue()));
        }
    }

    private static LongHistogram NewHistogram() => new(1, HighestMicroseconds, numberOfSignificantValueDigits: 3);

    private static double Milliseconds(long microseconds) => microseconds / 1000.0;
}
