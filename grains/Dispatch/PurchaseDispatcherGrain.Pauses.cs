using OrleansTickets.Orders;

namespace OrleansTickets.Dispatch;

/// <summary>
/// Waiting for tickets that exist but cannot be had yet (in flight, reserved, or on a shard that cannot answer):
/// pauses that lengthen while buyers keep waiting, and one shared wait on the commits the last refresh found
/// reserved, whose outcome can also give a verdict.
/// </summary>
public sealed partial class PurchaseDispatcherGrain
{
    // Pauses for tickets double, up to 32 times RetryPause, with each refresh after which buyers still had to pause,
    // until something sells, a verdict of sold out is given, or PauseMemory passes without a pause (an outage that
    // ended in 503s neither sells nor gives a verdict, and must not leave the next sale's end pausing 320 ms). A commit
    // in flight holds its tickets for milliseconds, and the first pauses cover it. Tickets held by a shard that is
    // down, or by a gift whose receiver died, stay out of reach for seconds; at a fixed 10 ms every waiting buyer
    // brought a refresh of every shard of the type about every 10 ms, for the whole of its patience.
    private const int MaxPauseDoublings = 5;

    // While every shard and the catalog answered the last refresh, each with a count it read (none of them
    // "unavailable"), what holds the tickets out of reach is on shards that work: commits in flight, which land within
    // milliseconds, or gifts on their way. There the pause stops doubling at 4 times RetryPause (40 ms): at the end of
    // a healthy sale the full doubling left buyers asleep for up to 320 ms beside tickets that had come free
    // (docs/benchmarks.md, thirty-seventh session). The full doubling stays for a shard that cannot answer or whose
    // database is down, where it bounds the refreshes. A gift whose receiver died also looks healthy: its tickets wait
    // for the donor's next delivery attempt (a second), and meanwhile the waiting buyers refresh every 40 ms or so.
    private const int MaxPauseDoublingsWhileAllAnswer = 2;
    private bool _lastRefreshHeardAll;
    private static readonly TimeSpan PauseMemory = TimeSpan.FromSeconds(1);
    private int _pauseDoublings;
    private long _pausedAfterRefresh = -1;
    private long _lastPausedAt;

    // What the last finished refresh found reserved: commits in flight and holds for forwards. Buyers who pause after
    // that refresh share one wait on those commits (_settling, started for _settlingFor) and look again when it ends,
    // if that comes before their pause does (InventoryShardGrain.Settling.cs). The verdict that wait could give: at
    // most _settledUnsold tickets unsold since the wait that followed refresh _settledRefresh (see SettleAsync).
    private RefreshReservations? _reservations;
    private RefreshReservations? _settlingFor;
    private Task? _settling;
    private long _settledRefresh = -1;
    private long _settledUnsold;

    /// <summary>
    /// Waits before looking again: enough tickets exist, but none can be had now (in flight, reserved, or on a shard
    /// that cannot answer). Longer after each refresh that left buyers waiting (see <see cref="MaxPauseDoublings"/>; at
    /// most <see cref="MaxPauseDoublingsWhileAllAnswer"/> doublings while every shard answered the last refresh), or
    /// until <paramref name="giveUpAt"/> has passed when that comes first.
    /// </summary>
    private Task PauseForTicketsAsync(long giveUpAt)
    {
        metrics.Paused(retry: false);
        if (_lastPausedAt != 0 && clock.GetElapsedTime(_lastPausedAt) > PauseMemory) _pauseDoublings = 0;
        _lastPausedAt = clock.GetTimestamp();
        var pause = RetryPause * (1 << (_lastRefreshHeardAll ? Math.Min(_pauseDoublings, MaxPauseDoublingsWhileAllAnswer) : _pauseDoublings));
        // One step per refresh, not per buyer: every buyer that waited on the same refresh pauses as long. The grain is
        // reentrant, but turns do not overlap, so the two fields change together.
        if (_pausedAfterRefresh != _refreshesStarted)
        {
            _pausedAfterRefresh = _refreshesStarted;
            _pauseDoublings = Math.Min(_pauseDoublings + 1, MaxPauseDoublings);
        }
        var timed = Left(giveUpAt) <= pause ? WaitOutAsync(giveUpAt) : Task.Delay(pause, clock);
        return SettlingAfterLastRefresh(pause) is { } settling ? Task.WhenAny(settling, timed) : timed;
    }

    /// <summary>
    /// The wait, shared by every buyer pausing after the last refresh, for the commits of the tickets that refresh found
    /// reserved; each shard waits at most <paramref name="longest"/>. Null when there is nothing to wait on, or when that
    /// wait has ended and the view already has its answers: the timed pause alone then spaces the buyers' refreshes.
    /// Only while every shard answered that refresh: otherwise what keeps tickets out of reach may be a shard that
    /// cannot answer, and the pause's full doubling bounds how often it is asked.
    /// </summary>
    private Task? SettlingAfterLastRefresh(TimeSpan longest)
    {
        if (!_lastRefreshHeardAll || _reservations is not { Reserved.Length: > 0 } reservations) return null;
        if (ReferenceEquals(_settlingFor, reservations)) return _settling is { IsCompleted: false } settling ? settling : null;
        _settlingFor = reservations;
        return _settling = SettleAsync(reservations, longest);
    }

    /// <summary>
    /// Asks the shards <paramref name="reservations"/> names for their sales once their commits in flight have ended,
    /// takes the answers into the view, and works out how many tickets at most are still unsold.
    /// </summary>
    /// <remarks>
    /// The refresh counted <see cref="RefreshReservations.Unsold"/> tickets unsold, each shard as of its own
    /// answer and each gift once (ShardCounts). Only a sale takes a ticket out of that count, and only a grant adds
    /// one. So every ticket a shard sold after its answer to the refresh, as its answer here shows
    /// (its sold count then against now), comes off it, and what is left bounds the unsold from now on, as long as the
    /// catalog's storage shows no grant since (read after these answers, as the refresh reads it). Below the order's
    /// quantity that is a verdict of sold out for buyers who arrived before the refresh started, or who met it while it
    /// still took newcomers (<see cref="Joined"/>), without asking every shard again. Sold counts only grow (a newer
    /// activation loads what the older one committed, and fences it); an answer from an activation that knows itself
    /// fenced is not used.
    /// </remarks>
    private async Task SettleAsync(RefreshReservations reservations, TimeSpan longest)
    {
        var reserved = reservations.Reserved;
        var unsold = reservations.Unsold;
        var calls = new Task<Sales.ShardSales>[reserved.Length];
        for (var k = 0; k < reserved.Length; k++) calls[k] = Shard(reserved[k].Index).GetSalesAfterCommit(longest);
        try
        {
            await Task.WhenAll(calls).WaitAsync(RefreshTimeout, clock);
        }
        catch (Exception)
        {
            // A shard that did not answer keeps its place in the view; the next refresh asks it again.
        }
        for (var k = 0; k < reserved.Length; k++)
        {
            // What it can sell now, as a refresh takes it. A hint like every count in the view: the verdicts rest on refreshes.
            if (calls[k].IsCompletedSuccessfully && calls[k].Result is { Known: true } report && report.Status != Sales.ShardStatus.Unavailable)
            {
                Observe(reserved[k].Index, report.Remaining - report.Reserved);
                unsold -= report.Sold - reserved[k].Sold;
            }
        }
        // Only while no later refresh has ended: one that did counted afresh (a grant taken in since, say), and a buyer
        // that saw its count must not be answered from this older one.
        if (unsold < _type!.MaxPerOrder && reservations.GrantedEver is { } granted && await StillGrantedAsync(granted)
            && ReferenceEquals(reservations, _reservations))
        {
            (_settledRefresh, _settledUnsold) = (reservations.Refresh, unsold.Value);
        }
    }

    /// <summary>
    /// The arrival a request's waits on reserved tickets are judged by (<see cref="SettledVerdict"/>), once a refresh that
    /// started before the request arrived served it (<paramref name="joined"/>, its number). The wait that follows that
    /// refresh serves the request as well: it starts when the refresh has ended, after the request met it, and its own
    /// read of the catalog's storage comes later still, so what it leaves unsold bounds the tickets at a moment within
    /// the request's lifetime, as a refresh's does (<c>_refreshTakesNewcomers</c>).
    /// </summary>
    private static long Joined(long arrived, long? joined) => joined is { } number ? Math.Min(arrived, number - 1) : arrived;

    /// <summary>
    /// Sold out, when the last wait on reserved tickets (<see cref="SettleAsync"/>) followed a refresh numbered above
    /// <paramref name="arrival"/> (the request's first, or lower once a refresh it joined served it: <see cref="Joined"/>)
    /// and left fewer than <paramref name="quantity"/> tickets unsold; null otherwise.
    /// </summary>
    private PurchaseResult? SettledVerdict(int quantity, long arrival)
    {
        if (_settledRefresh <= arrival || _settledUnsold >= quantity) return null;
        _pauseDoublings = 0;
        return new PurchaseResult(PurchaseStatus.SoldOut, Remaining: Math.Max(0, _settledUnsold));
    }

    /// <summary>Returns once <paramref name="deadline"/> has passed by the grain's clock.</summary>
    /// <remarks>
    /// A timer can end a little early by this clock: a delay's span is cut to whole milliseconds, and .NET's timers run
    /// on a millisecond clock of their own (Environment.TickCount64), not on this one. A buyer woken just before its
    /// patience ended went round its loop again, and every time round refreshed every shard of the type: tens of
    /// refreshes in the last milliseconds (DispatcherPatienceTests counted 59 once where about 20 were due).
    /// </remarks>
    private async Task WaitOutAsync(long deadline)
    {
        for (var left = Left(deadline); left > TimeSpan.Zero; left = Left(deadline))
        {
            await Task.Delay(left + TimeSpan.FromMilliseconds(1), clock);
        }
    }
}
