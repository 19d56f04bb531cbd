using Microsoft.Extensions.Logging;

namespace OrleansTickets.Hosting;

/// <summary>
/// Runs a start-up step that needs a database again while that database is out for a moment: a silo added for the rush
/// while PostgreSQL restarts (the chaos run does exactly this) would otherwise exit at its first connection attempt,
/// and the operator would find the fleet one silo short.
/// </summary>
/// <remarks>
/// Only errors that say "not now" are retried (<see cref="DatabaseOutage"/>): on PostgreSQL a refused or broken
/// connection, a server starting up or shutting down, a database closed to connections; for any provider an exception
/// that calls itself transient, a socket error or a timeout. (SQL Server's own error numbers are not classified: its silos are unverified, see the README.)
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
            catch (Exception exception) when (DatabaseOutage.Is(exception) && !cancellationToken.IsCancellationRequested
                && clock.GetUtcNow() - started < GiveUpAfter)
            {
                LogWaiting(logger, stepName, attempt, exception.GetBaseException().Message);
            }
            await Task.Delay(Pause, clock, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Start-up step '{Step}' could not reach its database (attempt {Attempt}: {Reason}); trying again in a second")]
    private static partial void LogWaiting(ILogger logger, string step, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start-up step '{Step}' reached its database at attempt {Attempt}")]
    private static partial void LogRecovered(ILogger logger, string step, int attempt);
}
