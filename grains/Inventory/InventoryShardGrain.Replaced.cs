using Microsoft.Extensions.Logging;
using OrleansTickets.Storage;

namespace OrleansTickets.Inventory;

/// <summary>How an activation that a newer one replaced finds out when no commit of its own is fenced to tell it.</summary>
/// <remarks>
/// <para>
/// During a membership change Orleans may run a second activation of a shard. The newer one claims the shard in its
/// database (a higher epoch), and the older one learns so when its next commit is fenced. One that no longer commits
/// never learns it, and the refreshes that ask it for its report keep it alive, so it answers from its last commit for
/// as long as it lives: a sold-out one, and as much one with fewer tickets left than the orders its dispatchers route
/// (one ticket, say, against orders of two: no dispatcher routes such an order to it to sell, and when one picks it as a
/// pull's receiver, the givers' silos may deliver to the newer activation, and the order is refused without a commit). Its numbers still add up (ShardCounts corrects for gifts it has not seen, and no verdict rests on a
/// report behind a grant), but it tells the dispatchers that reach it that it has little or nothing to sell, beside
/// tickets the newer activation was since given or granted: their buyers pause, and get 503.
/// </para>
/// <para>
/// So it looks at whose epoch its row holds, and stops as fenced when a newer one is there: when the catalog saw more
/// grants taken in than it counts (<see cref="StepDownIfBehind"/>), when a report is asked of it while no commit of
/// its own is running or queued and it has not confirmed its claim for <see cref="ClaimRecheckAfter"/>
/// (<see cref="RecheckClaimIfIdle"/>), and, as a key's home, before it answers "sold out" from what it read of the key
/// (<see cref="StillHoldsClaimAsync"/>).
/// </para>
/// </remarks>
public sealed partial class InventoryShardGrain
{
    /// <summary>
    /// How long an activation with no commit of its own answers reports before it reads its row's epoch again. One that
    /// commits confirms its claim with each commit (a replaced one's is fenced). One that does not reads one row every
    /// 5 s for as long as reports are asked of it: every refresh of its type asks every shard, as do the event page's
    /// sales reads and a shard looking for a receiver. With the story's 550 shards idle (before a sale, or after it),
    /// at most about 110 point reads a second over all their databases; in a sale, shards commit until they sell out near
    /// its end, so few go 5 s without a commit before it ends. A replaced activation is found within that, plus one report.
    /// </summary>
    private static readonly TimeSpan ClaimRecheckAfter = TimeSpan.FromSeconds(5);

    // When this activation last knew it held the shard (its claim, a commit, or the start of a read of its row's epoch:
    // a database that fails the read is asked again only after another interval), by the clock's timestamp.
    private long _claimConfirmedAt;
    private bool _claimRecheckRunning;
    private bool _behindOwnDatabaseLogged;

    /// <inheritdoc />
    /// <remarks>
    /// A current activation counts every grant the catalog saw this shard take in: the catalog hears "accepted" only once
    /// the take-in's commit is applied here, a repeat is answered from what this activation took in or loaded, and a
    /// reload reads every take-in back. So one that counts fewer missed a commit, and the usual cause is another
    /// activation's. Not the only one: a database restored from a backup taken before the take-in holds fewer than the
    /// catalog saw, and every activation would be behind; stopping each would cost a claim and its buyers' sales, again
    /// at every refresh. So the database says whose epoch it holds, and only a newer one than this activation's stops it
    /// (epochs only grow: an older one is this activation's own, read before a reload of its own raised it). Checked
    /// again after the read, in the turn that stops: meanwhile this activation may have stopped, reloaded or taken more
    /// in, and a reload still running may hold a claim of its own that memory does not show yet.
    /// </remarks>
    public async Task<bool> StepDownIfBehind(long delivered)
    {
        if (!BehindGrants(delivered)) return false;
        var (read, stored) = await ReadStoredEpochAsync();
        if (!read || !BehindGrants(delivered)) return false;
        if (stored is not { } epoch || epoch <= _ledger!.Epoch)
        {
            // Once per activation: every refresh of the type asks again while the two disagree.
            if (!_behindOwnDatabaseLogged) LogBehindOwnDatabase(_logger, _address.Key, _grantedInTotal, delivered);
            _behindOwnDatabaseLogged = true;
            return false;
        }
        LogBehindGrants(_logger, _address.Key, _grantedInTotal, delivered, epoch);
        StopAsFenced();
        return true;
    }

    /// <summary>
    /// Whether this activation still holds the shard, by its row's epoch, for an answer that rests on a read rather than
    /// on a commit, which the fence would check. False when it cannot tell (the read failed, a reload of its own ran, it
    /// stopped meanwhile, or the row is gone), and when a newer activation's epoch is there, which stops this one as
    /// fenced.
    /// </summary>
    private async Task<bool> StillHoldsClaimAsync()
    {
        var (read, stored) = await ReadStoredEpochAsync();
        return HoldsClaim(read, stored, beforeKeyedRefusal: true);
    }

    /// <summary>
    /// The verdict on an epoch already read (<paramref name="read"/> false when it was not, or a reload of this
    /// activation's own ran meanwhile): whether this activation still holds the shard. A newer activation's epoch stops
    /// this one as fenced. Counted as failed when it cannot tell (the row is gone, or this activation stopped or reloaded
    /// during the read), as replaced, or as its own; <paramref name="beforeKeyedRefusal"/> says which check asked.
    /// </summary>
    private bool HoldsClaim(bool read, long? stored, bool beforeKeyedRefusal)
    {
        // Checked in the turn that stops: meanwhile this activation may have stopped or reloaded (its own claim then
        // raised its epoch to what was read, or above).
        read = read && stored is not null && _loaded && !_fenced;
        var replaced = read && stored > _ledger!.Epoch;
        metrics.ClaimRechecked(read, replaced, beforeKeyedRefusal);
        if (!read) return false;
        if (replaced)
        {
            if (beforeKeyedRefusal) LogReplacedAtRead(_logger, _address.Key, _ledger!.Epoch, stored!.Value);
            else LogReplacedWhileIdle(_logger, _address.Key, _ledger!.Epoch, stored!.Value);
            StopAsFenced();
            return false;
        }
        _claimConfirmedAt = clock.GetTimestamp();
        return true;
    }

    private bool BehindGrants(long delivered) => _loaded && !_fenced && _grantedInTotal < delivered;

    /// <summary>
    /// Called as a report is answered: starts a read of the row's epoch when no commit of this activation's is running
    /// or queued and it has not confirmed its claim for <see cref="ClaimRecheckAfter"/>. The report does not wait for it
    /// (except on SQLite, whose reads run synchronously, a point read); should the read find a newer activation's epoch,
    /// this one stops, and the next refresh hears one that read the database.
    /// </summary>
    private void RecheckClaimIfIdle()
    {
        // A commit running or queued is fenced if this activation was replaced, and tells it so. Tickets reserved with
        // none queued (a pull waiting on its donors, a hold waiting for its order) promise none: a pull whose gifts were
        // delivered to the successor ends in a refusal, and an activation whose orders all came as such pulls would
        // otherwise never read.
        if (!_loaded || _fenced || _claimRecheckRunning || _cycleRunning || _queue.Count > 0 || _changes.Count > 0
            || clock.GetElapsedTime(_claimConfirmedAt) < ClaimRecheckAfter)
        {
            return;
        }
        _claimRecheckRunning = true;
        _claimConfirmedAt = clock.GetTimestamp();
        RecheckClaimAsync().Ignore();
    }

    private async Task RecheckClaimAsync()
    {
        try
        {
            var (read, stored) = await ReadStoredEpochAsync();
            HoldsClaim(read, stored, beforeKeyedRefusal: false);
        }
        finally
        {
            _claimRecheckRunning = false;
        }
    }

    /// <summary>
    /// The epoch the shard's row holds (null when it has no row). Not read (false) when the database failed the read, or
    /// when a reload of this activation is running: its claim may be in the row before memory shows it.
    /// </summary>
    private async Task<(bool Read, long? Stored)> ReadStoredEpochAsync()
    {
        var (read, stored) = await TryReadAsync(ledger => ledger.ReadEpochAsync());
        return (read && !ReloadRunning, stored);
    }

    /// <summary>
    /// Reads the key, then the row's epoch, on one connection (<see cref="ShardLedger.ReadKeyThenEpochAsync"/>).
    /// <c>Read</c> is false when the database failed; <c>EpochRead</c> also when a reload of this activation's own ran
    /// meanwhile, as in <see cref="ReadStoredEpochAsync"/>.
    /// </summary>
    private async Task<(bool Read, StoredKey? Key, bool EpochRead, long? Epoch)> ReadKeyThenEpochAsync(string key)
    {
        var (read, (stored, epoch)) = await TryReadAsync(ledger => ledger.ReadKeyThenEpochAsync(key));
        return (read, stored, read && !ReloadRunning, epoch);
    }

    private bool ReloadRunning => _setUp.TryGetRunning("load", out _);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: this activation counts {GrantedIn} tickets taken in from operators' grants, the catalog saw {Delivered} taken in, and the database holds epoch {Epoch}, a newer activation's; this one stops")]
    private static partial void LogBehindGrants(ILogger logger, string shard, long grantedIn, long delivered, long epoch);

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard {Shard}: its database holds take-ins of {GrantedIn} tickets from operators' grants, the catalog saw {Delivered} taken in, and no newer activation holds the shard: the database lost take-ins (a restore from an older backup?); no sold-out verdict for its type until they agree")]
    private static partial void LogBehindOwnDatabase(ILogger logger, string shard, long grantedIn, long delivered);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: about to answer from a read under epoch {Epoch}, and the database holds epoch {Stored}, a newer activation's; this one stops")]
    private static partial void LogReplacedAtRead(ILogger logger, string shard, long epoch, long stored);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard {Shard}: no commit under epoch {Epoch} for a while, and the database holds epoch {Stored}, a newer activation's; this one stops")]
    private static partial void LogReplacedWhileIdle(ILogger logger, string shard, long epoch, long stored);
}
