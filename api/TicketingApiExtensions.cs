using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Export;
using OrleansTickets.Api.Health;
using OrleansTickets.Api.Inventory;
using OrleansTickets.Api.Http;
using OrleansTickets.Api.Orders;
using OrleansTickets.Inventory;

namespace OrleansTickets.Api;

/// <summary>Wires the HTTP API into any host that can reach the grains: a co-hosted silo or an Orleans client.</summary>
public static class TicketingApiExtensions
{
    /// <summary>The longest HTTP/1.1 request line the API reads (Kestrel answers 414 past it).</summary>
    public const int MaxRequestLineBytes = 32 * 1024;

    public static IServiceCollection AddTicketingApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));
        // Header values are read as Latin-1, which takes every byte, instead of UTF-8, which throws on bytes that are not
        // UTF-8 (HTTP allows them in a value, and gateways pass them on). Over HTTP/1.1 the throw refused one request,
        // but over HTTP/2 it ended the connection, and with it every request a gateway had multiplexed onto it. The
        // headers the API reads are ASCII by their own rules, so such a value is now refused by them, for its own
        // request alone, with a problem.
        services.Configure<KestrelServerOptions>(o =>
        {
            o.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
            // The export's cursor holds a place in every shard database, about 9.5 characters each when the databases
            // lie on several PostgreSQL servers: past about 850 of them it outgrew the default 8 KB request line, and
            // the back office could not ask for its next page (HTTP/1.1 got 414; over HTTP/2, where Kestrel holds the
            // path to the same limit, the stream was reset). 32 KB takes about 3,400 databases on either protocol.
            // Memory stays bounded by the request buffer (1 MB per connection), not by this limit.
            o.Limits.MaxRequestLineSize = MaxRequestLineBytes;
        });
        // Answers that no handler wrote get their problems from FallbackProblems; every other problem is written by
        // the handler that refused the request, with its own type.
        services.AddProblemDetails();
        // After ASP.NET Core's writer, which AddProblemDetails registers: asked only for the clients that one refuses.
        services.AddSingleton<IProblemDetailsWriter, AnyClientProblemWriter>();
        // Registered after AddProblemDetails, so it runs after ASP.NET Core's own set-up of these options.
        services.PostConfigure<JsonOptions>(o => GeneratedJsonOnly.Apply(o.SerializerOptions));
        services.AddSingleton<EventDirectory>();
        services.AddSingleton(sp => new SharedSalesReads(sp.GetRequiredService<IGrainFactory>()));
        // A front end registers its own before this (FrontEndHostingExtensions); a silo's API calls in-process.
        services.TryAddSingleton(new GatewayHop(MayResend: false));
        services.AddOptions<PurchaseAdmissionOptions>().BindConfiguration(PurchaseAdmissionOptions.SectionName)
            .Validate(o => o.MaxInFlight >= 1 && o.MaxQueued >= 0 && o.MaxQueueWait > TimeSpan.Zero && o.MaxQueueWait <= PurchaseAdmissionOptions.LongestQueueWait,
                "Api:Admission:MaxInFlight must be at least 1, Api:Admission:MaxQueued at least 0, and Api:Admission:MaxQueueWait " +
                $"more than 0 and at most {PurchaseAdmissionOptions.LongestQueueWait.TotalMinutes:0} minutes.")
            .ValidateOnStart();
        services.AddSingleton<PurchaseAdmission>();
        services.AddOptions<OrderPageLimitOptions>().BindConfiguration(OrderPageLimitOptions.SectionName)
            .Validate(o => o.PerClientPerSecond is >= 0 and <= OrderPageLimitOptions.MaxSetting
                    && (!o.Enabled || o.PerClientBurst >= o.PerClientPerSecond && o.PerClientBurst <= OrderPageLimitOptions.MaxSetting
                        && o.PerClientInFlight is >= 1 and <= OrderPageLimitOptions.MaxSetting),
                string.Create(CultureInfo.InvariantCulture,
                    $"Api:OrderPages:PerClientPerSecond must be 0 (no limit) to {OrderPageLimitOptions.MaxSetting:N0}; with a limit, " +
                    $"Api:OrderPages:PerClientBurst at least that rate and Api:OrderPages:PerClientInFlight at least 1, both at most {OrderPageLimitOptions.MaxSetting:N0}."))
            .ValidateOnStart();
        services.AddSingleton<OrderPageLimit>();
        services.AddOptions<OperatorAccessOptions>().BindConfiguration(OperatorAccessOptions.SectionName)
            .Validate(o => o.Key is null || (o.Key.Length >= OperatorAccessOptions.MinKeyLength && o.Key.All(c => c is > ' ' and <= '~')),
                $"Api:Operators:Key must be at least {OperatorAccessOptions.MinKeyLength} printable ASCII characters without spaces, or unset.")
            .ValidateOnStart();
        services.AddHostedService<OperatorKeyWarning>();
        services.AddOptions<ShutdownDrainOptions>().BindConfiguration(ShutdownDrainOptions.SectionName)
            .Validate(o => o.Drain >= TimeSpan.Zero && o.Drain <= ShutdownDrainOptions.MaxDrain,
                $"Api:Shutdown:Drain must be 0 to {ShutdownDrainOptions.MaxDrain.TotalSeconds:0} seconds.")
            .ValidateOnStart();
        services.AddHostedService<ShutdownDrain>();
        // The drain comes before the stop's own steps, so it adds to their budget instead of taking from it.
        services.AddOptions<HostOptions>().PostConfigure<IOptions<ShutdownDrainOptions>>((host, drain) =>
        {
            TimeSpan added;
            try
            {
                added = drain.Value.Drain;
            }
            catch (OptionsValidationException)
            {
                // The host reads its options while it is built, before anything can report a bad setting: the drain's
                // own validation says what is wrong when the host starts (ValidateOnStart), as for the other settings.
                return;
            }
            if (added > TimeSpan.Zero && host.ShutdownTimeout != Timeout.InfiniteTimeSpan) host.ShutdownTimeout += added;
        });
        return services;
    }

    public static IEndpointRouteBuilder MapTicketingApi(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = FallbackProblems.WriteForExceptionAsync,
            // A crowd's page loads past the lookup limit are answered 503 to retry: expected, not an error to log per page.
            SuppressDiagnosticsCallback = context => context.Exception is ShardBusyException,
        });
        app.UseStatusCodePages(FallbackProblems.WriteForStatusAsync);
        app.UseClosingConnectionsWhileStopping();
        app.MapHealthApi();
        app.MapEventsApi();
        app.MapOrdersApi();
        app.MapInventoryApi();
        app.MapExportApi();
        return app;
    }
}
