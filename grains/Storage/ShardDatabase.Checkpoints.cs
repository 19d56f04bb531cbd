using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace OrleansTickets.Storage;

/// <summary>The SQLite writer's watch over its write-ahead log.</summary>
/// <remarks>
/// A commit is durable once it is in the log, and SQLite copies the log into the database file (a checkpoint) after a
/// commit that finds the log long. That copy's errors are dropped: a disk that fills, or fails to write the database
/// file, keeps taking commits into the log while the log can no longer be restarted and only grows, and the first sign
/// is commits failing once it has filled the disk. A reader that stays open blocks the copy in the same silent way.
/// So, after a commit and at most once per <see cref="TicketStorageOptions.SqliteCheckpointCheckSeconds"/>, the writer
/// checkpoints once more itself, where it can see the outcome, and says what it found. It runs on the writer thread,
/// between commits, because that is where the log's writes happen and where a check costs the sale least: a passive
/// checkpoint shortly after SQLite's own has little left to copy.
/// </remarks>
public sealed partial class ShardDatabase
{
    private readonly TimeSpan _checkpointCheckInterval;

    // Four times the log size at which SQLite checkpoints by itself: far beyond what a reader of a few rows can hold back.
    private readonly long _checkpointPagesBehindWarning;
    private long _lastCheckpointCheck = Stopwatch.GetTimestamp();
    private bool _checkpointTroubleReported;
    private long _checkpointChecks;

    /// <summary>Checks this database's writer has finished (<see cref="WatchCheckpoints"/>), for tests that wait on one.</summary>
    internal long CheckpointChecks => Interlocked.Read(ref _checkpointChecks);

    /// <summary>
    /// Checkpoints the log passively when the interval has passed since the last check, and reports a failure, or a log
    /// that readers keep from being copied, until a check finds the log copied again. Never throws: the writer thread
    /// must outlive whatever the check meets.
    /// </summary>
    private void WatchCheckpoints()
    {
        if (Stopwatch.GetElapsedTime(_lastCheckpointCheck) < _checkpointCheckInterval) return;
        _lastCheckpointCheck = Stopwatch.GetTimestamp();
        try
        {
            // Null when the last commit failed and closed the connection: the next commit opens a fresh one.
            if (_sqliteWriter!.CheckpointPassively() is not { } checkpoint) return;
            if (checkpoint.PagesBehind >= _checkpointPagesBehindWarning)
            {
                Report(() => LogCheckpointBehind(_logger, Ordinal, checkpoint.PagesBehind, checkpoint.LogPages), "behind");
            }
            else if (_checkpointTroubleReported)
            {
                _checkpointTroubleReported = false;
                LogCheckpointRecovered(_logger, Ordinal, checkpoint.LogPages);
            }
        }
        catch (Exception exception)
        {
            Report(() => LogCheckpointFailed(_logger, exception, Ordinal), "failed");
        }
        finally
        {
            Interlocked.Increment(ref _checkpointChecks);
        }
    }

    private void Report(Action log, string reason)
    {
        _checkpointTroubleReported = true;
        log();
        try
        {
            _metrics.CheckpointTrouble(reason);
        }
        catch (Exception)
        {
            // A meter listener's callback runs inline and may throw; the writer thread must go on committing.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard database {Ordinal}: SQLite cannot copy its write-ahead log into the database file. " +
        "Commits stay durable in the log, but the log now grows with every commit until the disk is full, and then every order on this database is refused. " +
        "Free space on, or repair, the disk that holds the shard files")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, int ordinal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: {PagesBehind} of the {LogPages} pages in its write-ahead log cannot be copied into the database file, " +
        "because a reader that began before they were written is still open. The log grows until that reader ends")]
    private static partial void LogCheckpointBehind(ILogger logger, int ordinal, long pagesBehind, long logPages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard database {Ordinal}: its write-ahead log is copied into the database file again ({LogPages} pages in the log)")]
    private static partial void LogCheckpointRecovered(ILogger logger, int ordinal, long logPages);
}
