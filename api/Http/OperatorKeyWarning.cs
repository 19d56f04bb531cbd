using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Says at start that the operator endpoints are open to every caller on this machine. Without a key that is the
/// intended local default, but a reverse proxy on the same host that adds no X-Forwarded-For (nginx's plain
/// proxy_pass, an SSH tunnel) makes every caller on the network look local, and the export hands out buyers' data.
/// </summary>
internal sealed partial class OperatorKeyWarning(IOptions<OperatorAccessOptions> options, ILogger<OperatorKeyWarning> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Key is null) LogNoKey(logger, OperatorAccessOptions.SectionName);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Section}:Key is not set: operators' endpoints (the export of buyers' data, " +
        "drains, capacity) answer any caller on this machine. Behind a reverse proxy or tunnel on this host, set a key: " +
        "a proxy that adds no X-Forwarded-For makes every caller look local")]
    private static partial void LogNoKey(ILogger logger, string section);
}
