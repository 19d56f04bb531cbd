using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// Every response's arrival time and latency, so a run can show when its slowest answers came: spread evenly
/// (queueing), in bursts at a steady beat (a database checkpoint, a collection), or at the end of the sale.
/// Kept only when asked for (<c>--latency-timeline</c>): sixteen bytes a response.
/// </summary>
public sealed class LatencyTimeline
{
    private readonly List<(long At, long Microseconds)> _responses = [];

    /// <summary>One response. Not thread-safe: <see cref="LatencyRecorder"/> calls it under its lock.</summary>
    public void Add(long stopwatchTimestamp, long microseconds) => _responses.Add((stopwatchTimestamp, microseconds));

    /// <summary>
    /// One row per <paramref name="window"/> of arrival time since <paramref name="startedAt"/> (a
    /// <see cref="Stopwatch"/> timestamp), from the first window to the last with a response: the window's start in
    /// seconds, its responses, their p50, p99 and max in milliseconds, and how many of them were slower than the whole
    /// run's p99 (where the run's slowest 1% came from: the p99 target is spent by them, wherever they fall). A window
    /// with no response (a stall) has a row too, with 0 responses and empty latencies. With <paramref name="cpu"/>,
    /// each row also gives the cores the service and the generator kept busy in it (empty where the readings do not say).
    /// </summary>
    public IReadOnlyList<string> Rows(long startedAt, TimeSpan window, CpuTimeline? cpu = null)
    {
        var rows = new List<string> { "start_s,responses,p50_ms,p99_ms,max_ms,above_run_p99" + (cpu is null ? "" : ",service_cores,generator_cores") };
        var slots = _responses.ToLookup(r => (long)(Stopwatch.GetElapsedTime(startedAt, r.At) / window));
        var last = slots.Count == 0 ? -1 : slots.Max(s => s.Key);
        var histogram = new LongHistogram(1, 3_600_000_000, numberOfSignificantValueDigits: 3);
        foreach (var response in _responses) histogram.RecordValue(response.Microseconds);
        var runP99 = histogram.GetValueAtPercentile(99);
        var windowTicks = (long)(window.TotalSeconds * Stopwatch.Frequency);
        for (var slot = 0L; slot <= last; slot++)
        {
            var start = string.Create(CultureInfo.InvariantCulture, $"{slot * window.TotalSeconds:F2}");
            var cores = cpu is null ? "" : Cores(cpu, startedAt + slot * windowTicks, startedAt + (slot + 1) * windowTicks);
            if (!slots.Contains(slot))
            {
                rows.Add($"{start},0,,,,0{cores}");
                continue;
            }
            histogram.Reset();
            var above = 0;
            foreach (var response in slots[slot])
            {
                histogram.RecordValue(response.Microseconds);
                if (response.Microseconds > runP99) above++;
            }
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"{start},{histogram.TotalCount},{histogram.GetValueAtPercentile(50) / 1000.0:F1},{histogram.GetValueAtPercentile(99) / 1000.0:F1},{histogram.GetMaxValue() / 1000.0:F1},{above}{cores}"));
        }
        return rows;
    }

    /// <summary>The row's two CPU columns, each leading with its comma.</summary>
    private static string Cores(CpuTimeline cpu, long from, long to)
    {
        var (service, generator) = cpu.CoresBetween(from, to);
        return string.Create(CultureInfo.InvariantCulture, $",{service:F2},{generator:F2}");
    }
}
