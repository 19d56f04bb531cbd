using System.Data.Common;
using System.Net.Sockets;
using Orleans.Runtime.Messaging;
using OrleansTickets.Hosting;

namespace OrleansTickets.Api.Hosting;

/// <summary>
/// How a front end waits for its cluster while it starts: the membership database may be coming back (PostgreSQL
/// restarting with it) and the gateways may not be listening yet (silos still rehearsing). Orleans' default gives up
/// at once on anything but a refused gateway connection, so a front end restarted together with PostgreSQL exited.
/// </summary>
/// <remarks>
/// It gives up after three minutes, as the default does for gateways, so that a front end pointed at the wrong place
/// still fails its start instead of waiting forever. Each wait is logged: a front end that is not listening yet should
/// say what it waits for.
/// </remarks>
internal sealed partial class GatewayConnectionRetry(TimeProvider clock, ILogger<GatewayConnectionRetry> logger) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private DateTimeOffset? _firstFailure;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        // A database error is waited out only when it says "not now" (the server restarting, say) or "not made yet": the
        // silos make the membership database and its tables, and a front end started beside the first silo may ask
        // before it has. A wrong password or a missing privilege fails the start at once, instead of after three minutes
        // of warnings.
        if (exception is not (OrleansMessageRejectionException or ConnectionFailedException or SocketException or TimeoutException)
            && !(exception is DbException database && (DatabaseOutage.Is(database) || NotMadeYet(database))))
        {
            return false;
        }
        var now = clock.GetUtcNow();
        _firstFailure ??= now;
        if (now - _firstFailure > GiveUpAfter) return false;
        LogWaiting(logger, exception.GetBaseException().Message);
        await Task.Delay(Pause, cancellationToken);
        return true;
    }

    /// <summary>A missing database (3D000) or table (42P01), which the first silo to start makes.</summary>
    private static bool NotMadeYet(DbException database) => database.SqlState is "3D000" or "42P01";

    [LoggerMessage(Level = LogLevel.Warning, Message = "The front end could not reach its cluster ({Reason}); trying again in a second")]
    private static partial void LogWaiting(ILogger logger, string reason);
}
