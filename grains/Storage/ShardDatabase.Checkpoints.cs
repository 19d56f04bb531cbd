using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace OrleansTickets.Storage;

/// <summary>The SQLite writer's checkpoints, and what it says of them.</summary>
/// <remarks>
/// A commit is durable once it is in the write-ahead log, and a checkpoint copies the log into the database file so
/// that the log can start afresh. SQLite's automatic checkpoint drops its errors: a disk that fills, or fails to write
/// the database file, keeps taking commits into the log while the log can no longer start afresh and only grows, and
/// the first sign would be commits failing once it had filled the disk. A reader left open blocks the copy in the same
/// silent way. So the writer runs the same checkpoint itself (<see cref="SqliteGroupWriter.CheckpointIfDue"/>), on the
/// writer thread right after the commit as SQLite did, and reports a failure, or a log that a reader holds back by four
/// times <see cref="TicketStorageOptions.SqliteCheckpointPages"/> or more: at once, then at most every
/// <see cref="TroubleReportInterval"/> while the same trouble lasts (a checkpoint is retried after every commit
/// meanwhile), and once more when a checkpoint copies the whole log again.
/// </remarks>
public sealed partial class ShardDatabase
{
    /// <summary>How often a checkpoint trouble that lasts is reported again.</summary>
    private static readonly TimeSpan TroubleReportInterval = TimeSpan.FromSeconds(10);

    // Four times the log size at which a checkpoint is due: far beyond what a reader of a few rows holds back.
    private readonly long _checkpointPagesBehindWarning;
    // The trouble last reported and when, until a checkpoint copies the whole log again; null: none reported.
    private string? _lastTroubleReason;
    private long _lastTroubleReport;

    /// <summary>Runs a checkpoint if one is due after a commit, and reports what it found. Never throws: the commit is durable.</summary>
    private void WatchCheckpoints()
    {
        try
        {
            if (_sqliteWriter!.CheckpointIfDue() is not { Known: true } checkpoint) return;
            if (checkpoint.PagesBehind >= _checkpointPagesBehindWarning)
            {
                Report(() => LogCheckpointBehind(_logger, Ordinal, checkpoint.PagesBehind, checkpoint.LogPages), "behind");
            }
            else if (checkpoint.PagesBehind == 0 && _lastTroubleReason is not null)
            {
                _lastTroubleReason = null;
                LogCheckpointRecovered(_logger, Ordinal);
            }
        }
        catch (Exception exception)
        {
            Report(() => LogCheckpointFailed(_logger, exception, Ordinal), "failed");
        }
    }

    private void Report(Action log, string reason)
    {
        // The same trouble again within the interval is not said again; another one is.
        if (reason == _lastTroubleReason && Stopwatch.GetElapsedTime(_lastTroubleReport) < TroubleReportInterval) return;
        _lastTroubleReason = reason;
        _lastTroubleReport = Stopwatch.GetTimestamp();
        log();
        // Cannot throw into the writer thread (SaleMetrics swallows a listener's throw): it must go on committing.
        _metrics.CheckpointTrouble(reason);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Shard database {Ordinal}: SQLite cannot copy its write-ahead log into the database file. " +
        "Commits stay durable in the log, but the log now grows with every commit until the disk is full, and then every order on this database is refused. " +
        "Free space on, or repair, the disk that holds the shard files")]
    private static partial void LogCheckpointFailed(ILogger logger, Exception exception, int ordinal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Shard database {Ordinal}: {PagesBehind} of the {LogPages} pages in its write-ahead log cannot be copied into the database file, " +
        "because a reader that began before they were written is still open. The log grows until that reader ends")]
    private static partial void LogCheckpointBehind(ILogger logger, int ordinal, long pagesBehind, long logPages);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard database {Ordinal}: its write-ahead log is copied into the database file again")]
    private static partial void LogCheckpointRecovered(ILogger logger, int ordinal);
}
