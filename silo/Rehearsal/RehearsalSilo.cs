using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansTickets.Api;
using OrleansTickets.Silo.Hosting;

namespace OrleansTickets.Silo.Rehearsal;

/// <summary>
/// A private copy of this service in the same process: a single-silo cluster of its own with the API on an
/// ephemeral loopback port, built by the same <see cref="SiloHostingExtensions.AddTicketingSilo"/> as the real one.
/// </summary>
/// <remarks>
/// Same process, so the code it runs is the code the real silo will run: the JIT compiles each method once per
/// process, whichever host calls it. Its own cluster and service ids, ports and storage, so it can never join the
/// real cluster or touch real data.
/// </remarks>
internal sealed class RehearsalSilo : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    // How long past its token's deadline a stop may still run before the copy is given up on: parts that honour the
    // token still need a moment after it fires to stop without grace.
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    /// <summary>How many pairs of ports a start tries before it gives up on "address already in use".</summary>
    internal const int PortAttempts = 3;

    private readonly WebApplication _app;

    private RehearsalSilo(WebApplication app, Uri address)
    {
        _app = app;
        // No client timeout of its own: the rehearsal's time limit bounds every request.
        Client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue })
        {
            BaseAddress = address,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Speaks HTTP to the private copy.</summary>
    public HttpClient Client { get; }

    /// <summary>
    /// Starts the copy with the real service's storage engine and admission settings, on the storage in
    /// <paramref name="storageSettings"/>.
    /// </summary>
    public static Task<RehearsalSilo> StartAsync(
        IConfiguration real, IReadOnlyDictionary<string, string?> storageSettings, CancellationToken cancellationToken,
        RehearsalCopyParts? parts = null) =>
        StartAsync(real, storageSettings, TwoFreeLoopbackPorts, cancellationToken, parts);

    /// <summary>
    /// Starts the copy on the storage in <paramref name="storageSettings"/>, with the silo and gateway ports that
    /// <paramref name="choosePorts"/> gives, asked again for each try.
    /// </summary>
    /// <remarks>
    /// The ports are free when chosen, but Orleans binds them only later in the copy's start, and they come from the
    /// kernel's ephemeral range, which every outgoing connection in this process also takes its local port from (a
    /// database pool's, say). One taken in that gap fails the start with "address already in use"; a few tries with
    /// new ports make that a retry instead of a silo opening cold.
    /// </remarks>
    /// <param name="real">The real service's configuration.</param>
    /// <param name="storageSettings">The scratch storage's settings.</param>
    /// <param name="choosePorts">Gives the silo and gateway ports, once per try.</param>
    /// <param name="cancellationToken">Ends the start.</param>
    /// <param name="parts">Services added to the copy before its own (tests: a part that misbehaves).</param>
    internal static async Task<RehearsalSilo> StartAsync(
        IConfiguration real, IReadOnlyDictionary<string, string?> storageSettings, Func<(int Silo, int Gateway)> choosePorts,
        CancellationToken cancellationToken, RehearsalCopyParts? parts = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(real, storageSettings, choosePorts(), cancellationToken, parts);
            }
            catch (Exception e) when (attempt < PortAttempts && IsAddressInUse(e) && !cancellationToken.IsCancellationRequested)
            {
                // The copy that failed is already stopped and disposed (StartOnceAsync): only the ports change.
            }
        }
    }

    /// <summary>One try at starting the copy on <paramref name="ports"/>; a failed try is stopped and disposed before it throws.</summary>
    private static async Task<RehearsalSilo> StartOnceAsync(
        IConfiguration real, IReadOnlyDictionary<string, string?> storageSettings, (int Silo, int Gateway) ports,
        CancellationToken cancellationToken, RehearsalCopyParts? parts)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        // Only what shapes a sale is copied: the storage engine and its tuning, and the admission queue. Nothing
        // that says where to listen, which cluster to join or which signing or operator key to use (the copy listens
        // on loopback only, where callers are operators while no key is set).
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(Section(real, "Storage").Concat(Section(real, "Api:Admission")));
        builder.Configuration.AddInMemoryCollection(storageSettings);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Cluster:Membership"] = "Localhost",
            ["Cluster:ClusterId"] = "orleans-tickets-rehearsal",
            ["Cluster:ServiceId"] = "orleans-tickets-rehearsal",
            ["Cluster:SiloPort"] = ports.Silo.ToString(CultureInfo.InvariantCulture),
            ["Cluster:GatewayPort"] = ports.Gateway.ToString(CultureInfo.InvariantCulture),
            [$"{OrleansTickets.Tickets.TicketCodeOptions.SectionName}:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            [$"{RehearsalOptions.SectionName}:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Orleans"] = "Error",
            // The copy listens on loopback for the rehearsal's own buyers: the real silo gives this warning.
            ["Logging:LogLevel:OrleansTickets.Api.Http.OperatorKeyWarning"] = "None",
        });
        parts?.AddTo(builder.Services);
        builder.AddTicketingSilo();
        var app = builder.Build();
        app.MapTicketingApi();
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception start)
        {
            // Why the start ended (a limit, a port to try again with, a broken scratch database) is what the caller
            // is told: the stop below never replaces it. The copy is disposed either way; it holds nothing to keep.
            await StopAfterFailedStartAsync(app, start);
            // Orleans reports a start it cancelled with an exception of its own: the caller is told it was the limit.
            if (cancellationToken.IsCancellationRequested && start is not OperationCanceledException)
            {
                throw new OperationCanceledException("The rehearsal copy's start was cut short.", start, cancellationToken);
            }
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RehearsalSilo(app, new Uri(address));
    }

    private static IEnumerable<KeyValuePair<string, string?>> Section(IConfiguration configuration, string name) =>
        configuration.GetSection(name).AsEnumerable().Where(pair => pair.Value is not null);

    /// <summary>Orleans reports a port someone else holds as <see cref="AddressInUseException"/> (its listener's bind).</summary>
    private static bool IsAddressInUse(Exception e) => e switch
    {
        AddressInUseException => true,
        SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } => true,
        AggregateException all => all.InnerExceptions.Any(IsAddressInUse),
        _ => e.InnerException is { } inner && IsAddressInUse(inner),
    };

    /// <summary>Two ports free now, and different: both are held open while the second is chosen.</summary>
    private static (int First, int Second) TwoFreeLoopbackPorts()
    {
        using var first = new TcpListener(IPAddress.Loopback, 0);
        using var second = new TcpListener(IPAddress.Loopback, 0);
        first.Start();
        second.Start();
        return (((IPEndPoint)first.LocalEndpoint).Port, ((IPEndPoint)second.LocalEndpoint).Port);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await StopAsync(_app);
    }

    /// <summary>
    /// Stops what a failed start did start, and disposes the copy; never throws.
    /// </summary>
    /// <remarks>
    /// A start cut short leaves the stages that did start running until stopped: timers, and listeners. Orleans refuses
    /// to stop a silo that never reached its running state, so the host's stop leaves them be. For a port that was taken
    /// that matters: the silo's and the gateway's listeners are bound side by side, and the silo's, once bound, accepts
    /// connections until the process ends, one more for every try. So after "address already in use" the silo's
    /// lifecycle stops them itself (it stops only the stages that started, and goes on past one that fails to stop),
    /// within the stop's time limit. After other failures it is not asked: a start that failed later, with more stages
    /// running (a scratch database that could not be created), kept that stop from returning in the two minutes a
    /// test waited, its time limit ignored.
    /// </remarks>
    private static async Task StopAfterFailedStartAsync(WebApplication app, Exception start)
    {
        try
        {
            await StopAsync(app, IsAddressInUse(start) ? StopStartedStagesAsync : null);
        }
        catch (Exception)
        {
            // Why the start failed is what the caller hears, not why the stop or the disposal failed.
        }
    }

    /// <summary>Stops the silo's lifecycle stages that started, within a time limit of its own; never throws.</summary>
    private static async Task StopStartedStagesAsync(WebApplication app)
    {
        // Its own limit: a host's stop that used up the first would leave this one nothing to stop with.
        using var lifecycle = new CancellationTokenSource(StopTimeout);
        try
        {
            await app.Services.GetRequiredService<ISiloLifecycleSubject>().OnStop(lifecycle.Token).WaitAsync(lifecycle.Token);
        }
        catch (Exception)
        {
            // Nothing more can be stopped; the copy is disposed all the same.
        }
    }

    /// <summary>
    /// Stops the copy, then disposes it. When the host's stop fails, <paramref name="whenStopFails"/> (if any) runs
    /// before the disposal, and the stop's exception is rethrown.
    /// </summary>
    private static async Task StopAsync(WebApplication app, Func<WebApplication, Task>? whenStopFails = null)
    {
        // Bounded: the copy holds nothing worth a long graceful shutdown, and the real silo is waiting to start. The
        // token bounds the parts that honour it; the wait, a little longer, bounds one that does not (the host waits
        // for every part's stop, whatever its token says), which would otherwise keep the real silo from ever
        // opening. A copy given up on this way (TimeoutException) keeps what it holds until the process ends.
        using var patience = new CancellationTokenSource(StopTimeout);
        try
        {
            await app.StopAsync(patience.Token).WaitAsync(StopTimeout + StopGrace);
        }
        catch (Exception) when (whenStopFails is not null)
        {
            await whenStopFails(app);
            throw;
        }
        finally
        {
            // Disposal waits for what the stop left running, so it is bounded as the stop is.
            await app.DisposeAsync().AsTask().WaitAsync(StopTimeout);
        }
    }
}
