using System.Data.Common;
using System.Net.Sockets;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansTickets.Api.Hosting;

/// <summary>
/// How a front end waits for its cluster while it starts: the membership database may be coming back (PostgreSQL
/// restarting with it) and the gateways may not be listening yet (silos still rehearsing). Orleans' default gives up
/// at once on anything but a refused gateway connection, so a front end restarted together with PostgreSQL exited.
/// </summary>
/// <remarks>
/// It gives up after three minutes, as the default does for gateways, so that a front end pointed at the wrong place
/// still fails its start instead of waiting forever.
/// </remarks>
internal sealed class GatewayConnectionRetry(TimeProvider clock) : IClientConnectionRetryFilter
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private DateTimeOffset? _firstFailure;

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (OrleansMessageRejectionException or ConnectionFailedException or DbException or SocketException or TimeoutException))
        {
            return false;
        }
        var now = clock.GetUtcNow();
        _firstFailure ??= now;
        if (now - _firstFailure > GiveUpAfter) return false;
        await Task.Delay(Pause, cancellationToken);
        return true;
    }
}
