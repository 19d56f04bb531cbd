using System.Diagnostics;
using System.Runtime;

namespace OrleansTickets.Silo.Rehearsal;

/// <summary>Waits for the JIT's background work to finish once the rehearsal's load has stopped.</summary>
/// <remarks>
/// Tiered compilation promotes hot methods on one background thread. During the rehearsal that thread competes with
/// the sale for the cores and falls behind: thousands of promotions were still queued when the rehearsal ended, and
/// if the silo opened at once they were compiled during the real sale instead (docs/benchmarks.md, eighth session).
/// With the process idle the queue drains in seconds. The runtime does not expose the queue, so this watches the
/// count of compiled methods until it stops growing.
/// </remarks>
internal static class JitSettling
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    // Timers and the idle silo still compile a few methods now and then; fewer than this per interval is quiet.
    private const long QuietGrowth = 10;

    // Quiet intervals in a row that count as settled.
    private const int QuietIntervals = 2;

    /// <summary>Waits until compilation is quiet or <paramref name="limit"/> has passed; returns the methods compiled meanwhile.</summary>
    public static async Task<long> WaitAsync(TimeSpan limit, CancellationToken cancellationToken)
    {
        var start = JitInfo.GetCompiledMethodCount();
        var last = start;
        var quiet = 0;
        var clock = Stopwatch.StartNew();
        while (quiet < QuietIntervals && clock.Elapsed < limit)
        {
            await Task.Delay(Interval, cancellationToken);
            var now = JitInfo.GetCompiledMethodCount();
            quiet = now - last < QuietGrowth ? quiet + 1 : 0;
            last = now;
        }
        return last - start;
    }
}
