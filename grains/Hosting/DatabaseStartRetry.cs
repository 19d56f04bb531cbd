using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansTickets.Hosting;

/// <summary>
/// Runs a start-up step that needs a database again while that database is out for a moment: a silo added for the rush
/// while PostgreSQL restarts (the chaos run does exactly this) would otherwise exit at its first connection attempt,
/// and the operator would find the fleet one silo short.
/// </summary>
/// <remarks>
/// Only errors that say "not now" are retried: on PostgreSQL a refused or broken connection, a server starting up or
/// shutting down, a database closed to connections; for any provider an exception that calls itself transient, a socket
/// error or a timeout. (SQL Server's own error numbers are not classified: its silos are unverified, see the README.)
/// Anything else (a wrong password, a cluster binding that differs, bad SQL) fails the start at once. The wait is
/// bounded, as a front end's is (three minutes), so a silo pointed at a server that never comes still fails its start
/// and says why.
/// </remarks>
public static partial class DatabaseStartRetry
{
    /// <summary>How long one step keeps trying.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    /// <summary>Runs <paramref name="step"/>, again after a pause while it fails with a database outage.</summary>
    public static async Task RunAsync(string stepName, Func<CancellationToken, Task> step, ILogger logger, CancellationToken cancellationToken,
        TimeProvider? clock = null)
    {
        clock ??= TimeProvider.System;
        var started = clock.GetUtcNow();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await step(cancellationToken);
                if (attempt > 1) LogRecovered(logger, stepName, attempt);
                return;
            }
            catch (Exception exception) when (IsOutage(exception) && !cancellationToken.IsCancellationRequested
                && clock.GetUtcNow() - started < GiveUpAfter)
            {
                LogWaiting(logger, stepName, attempt, exception.GetBaseException().Message);
            }
            await Task.Delay(Pause, clock, cancellationToken);
        }
    }

    /// <summary>True when <paramref name="exception"/> says the database cannot be reached now, rather than that something is wrong.</summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        // Class 08 (connection), 57P01-57P03 (shutting down, crashed, starting up), and 55000, which is what a database
        // closed with ALLOW_CONNECTIONS false answers.
        PostgresException postgres => postgres.IsTransient || postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
                or PostgresErrorCodes.ObjectNotInPrerequisiteState,
        DbException database => database.IsTransient || (database.InnerException is { } inner && IsOutage(inner)),
        SocketException or TimeoutException => true,
        _ => exception.InnerException is { } cause && IsOutage(cause),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up step '{Step}' could not reach its database (attempt {Attempt}: {Reason}); trying again in a second")]
    private static partial void LogWaiting(ILogger logger, string step, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up step '{Step}' reached its database at attempt {Attempt}")]
    private static partial void LogRecovered(ILogger logger, string step, int attempt);
}
