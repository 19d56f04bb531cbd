using System.Diagnostics;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// The CPU time of the service and of this generator, read every so often while the sale runs, so the latency
/// timeline can say, window by window, how many cores each kept busy: whether a slow stretch (the end of a sale) had
/// the cores working, or its buyers waiting on something that needs no CPU.
/// </summary>
/// <remarks>
/// The service's time comes from <c>/proc/&lt;pid&gt;/stat</c>, which counts user and system time each in the kernel's
/// clock ticks (10 ms on Linux): over a 100 ms window a value can be off by up to about a fifth of a core, less over
/// longer stretches. The generator's own comes from the runtime, finer.
/// </remarks>
public sealed class CpuTimeline
{
    private readonly List<Sample> _samples = [];

    /// <summary>
    /// One reading at <paramref name="at"/> (a <see cref="Stopwatch"/> timestamp), no earlier than the last; the
    /// service's is null when it cannot be read.
    /// </summary>
    public void Add(long at, TimeSpan? service, TimeSpan generator)
    {
        lock (_samples)
        {
            // In time order, as one sampler takes them: every window's lookup then reads them as they are.
            if (_samples.Count > 0 && at < _samples[^1].At) throw new ArgumentOutOfRangeException(nameof(at), "Readings come in time order.");
            _samples.Add(new Sample(at, service, generator));
        }
    }

    /// <summary>Reads every <paramref name="interval"/> until <paramref name="cancellationToken"/> ends it, and once more then.</summary>
    public async Task SampleAsync(Func<TimeSpan?> readService, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            // The first reading is taken at once, before the first await: a sale's first window starts with it.
            do
            {
                Read(readService);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        Read(readService);
    }

    private void Read(Func<TimeSpan?> readService)
    {
        TimeSpan? service;
        try
        {
            service = readService();
        }
        catch (Exception)
        {
            // A reading that fails leaves a gap in the timeline, never the run: the sale's results come after it.
            service = null;
        }
        Add(Stopwatch.GetTimestamp(), service, Environment.CpuUsage.TotalTime);
    }

    /// <summary>
    /// Cores the service and the generator kept busy on average from <paramref name="from"/> to <paramref name="to"/>
    /// (timestamps), over the part of that stretch the readings cover, with the CPU time at each end interpolated
    /// between the readings around it; null when they cover none of it (or, for the service, where it could not be read).
    /// </summary>
    public (double? Service, double? Generator) CoresBetween(long from, long to)
    {
        Sample[] samples;
        lock (_samples) samples = [.. _samples];
        if (samples.Length < 2) return (null, null);
        // The last window of a sale ends after its last response, where the readings stop.
        (from, to) = (Math.Max(from, samples[0].At), Math.Min(to, samples[^1].At));
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        if (seconds <= 0) return (null, null);
        return (Cores(s => s.Service), Cores(s => s.Generator));

        double? Cores(Func<Sample, TimeSpan?> read) =>
            At(samples, from, read) is { } start && At(samples, to, read) is { } end ? (end - start).TotalSeconds / seconds : null;
    }

    /// <summary>The CPU time at <paramref name="at"/>, on the straight line between the readings either side of it.</summary>
    private static TimeSpan? At(Sample[] samples, long at, Func<Sample, TimeSpan?> read)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            if (samples[i].At < at) continue;
            // A reading at the edge itself needs no neighbour.
            if (samples[i].At == at) return read(samples[i]);
            if (i == 0) return null;
            var (before, after) = (samples[i - 1], samples[i]);
            if (before.At > at || read(before) is not { } low || read(after) is not { } high) return null;
            var share = after.At == before.At ? 1 : (double)(at - before.At) / (after.At - before.At);
            return low + (high - low) * share;
        }
        return null;
    }

    private readonly record struct Sample(long At, TimeSpan? Service, TimeSpan Generator);
}
