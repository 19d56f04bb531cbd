using System.Diagnostics.Metrics;

namespace OrleansTickets.Diagnostics;

/// <summary>
/// Recording that never throws into the work it measures. A meter listener's callback runs inline, inside an
/// instrument's Add or Record, and may throw (a broken exporter); by then the work is done: an order committed, a
/// purchase answered, a request refused. Let through, it turned a keyless buyer's durable order into a 500 (who then
/// buys again), and a 503 or 429 into a 500. What the listener missed is its own loss. Both the silo's sale metrics and
/// each API process's refusal counters record through here (a front end loads no grain code).
/// </summary>
public static class QuietRecording
{
    /// <summary>Adds <paramref name="value"/> to <paramref name="counter"/>; never throws.</summary>
    public static void AddQuietly(this Counter<long> counter, long value)
    {
        try
        {
            counter.Add(value);
        }
        catch (Exception)
        {
        }
    }

    /// <summary>Adds <paramref name="value"/> to <paramref name="counter"/> with <paramref name="tags"/>; never throws.</summary>
    public static void AddQuietly(this Counter<long> counter, long value, params ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        try
        {
            counter.Add(value, tags);
        }
        catch (Exception)
        {
        }
    }

    /// <summary>Records <paramref name="value"/> in <paramref name="histogram"/>, with <paramref name="tag"/> if it has a key; never throws.</summary>
    public static void RecordQuietly<T>(this Histogram<T> histogram, T value, KeyValuePair<string, object?> tag = default) where T : struct
    {
        try
        {
            if (tag.Key is null) histogram.Record(value);
            else histogram.Record(value, tag);
        }
        catch (Exception)
        {
        }
    }
}
