using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Silo.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>The exit code the silo and the front end end with: 0 for a clean or early stop, 1 for a stop or a start that failed.</summary>
public sealed class StoppableRunTests
{
    [Fact]
    public async Task A_clean_stop_of_a_started_host_exits_0()
    {
        var (app, _) = Build(new StoppingService(failStop: false, holdStart: false));
        var run = Task.Run(app.RunUntilStopped);
        await WaitAsync(app.Lifetime.ApplicationStarted);
        app.Lifetime.StopApplication();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_stop_that_fails_after_the_start_exits_1()
    {
        var (app, service) = Build(new StoppingService(failStop: true, holdStart: false));
        var run = Task.Run(app.RunUntilStopped);
        await WaitAsync(app.Lifetime.ApplicationStarted);
        app.Lifetime.StopApplication();
        Assert.Equal(1, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(service.StopAsked);
    }

    [Fact]
    public async Task A_stop_that_used_up_its_budget_without_throwing_exits_1()
    {
        // As Orleans does with a silo that could not hand its grains over in time: stop at the budget, throw nothing.
        var (app, service) = Build(new StoppingService(failStop: false, holdStart: false, holdStop: true), shutdownTimeout: TimeSpan.FromSeconds(1));
        var run = Task.Run(app.RunUntilStopped);
        await WaitAsync(app.Lifetime.ApplicationStarted);
        app.Lifetime.StopApplication();
        Assert.Equal(1, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(service.StopAsked);
    }

    [Fact]
    public async Task A_stop_that_comes_before_the_start_finished_exits_0()
    {
        var (app, service) = Build(new StoppingService(failStop: false, holdStart: true));
        var started = app.Lifetime.ApplicationStarted; // the host's services are disposed once it has run
        var run = Task.Run(app.RunUntilStopped);
        await service.Starting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        app.Lifetime.StopApplication();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(started.IsCancellationRequested);
    }

    [Fact]
    public async Task A_start_that_fails_with_no_stop_asked_exits_1_instead_of_crashing()
    {
        // As a silo whose port another process holds: the start throws. Before, the exception left RunUntilStopped, so
        // the process ended as an unhandled exception (a crash dump, exit code 134).
        var (app, _) = Build(new StoppingService(failStop: false, holdStart: false, failStart: true));
        Assert.Equal(1, await Task.Run(app.RunUntilStopped).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_start_refused_for_a_value_the_binder_cannot_read_names_the_setting_and_the_value()
    {
        // .NET's binder names the setting only in its outer exception; the line used to give the innermost alone ("The
        // input string 'abc' was not in a correct format."), which names no setting.
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Cluster:SiloPort"] = "abc" }).Build();
        var refused = Assert.ThrowsAny<InvalidOperationException>(() => settings.GetValue<int>("Cluster:SiloPort"));

        var line = StoppableRun.Describe(new AggregateException(refused));

        Assert.Contains("'Cluster:SiloPort'", line);
        Assert.Contains(refused.GetBaseException().Message, line);
        Assert.Equal(1, CountOf(refused.Message, line));
        Assert.DoesNotContain(new AggregateException(refused).Message, line);
    }

    private static int CountOf(string part, string whole) => (whole.Length - whole.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_start_that_fails_after_a_service_started_stops_that_service_and_exits_1(bool stopIgnoresItsToken)
    {
        // As a silo that joined its cluster before the web server found its port taken: the silo must leave the cluster
        // (its stop), or the others keep routing to it until they declare it dead. Before, nothing was stopped. A stop
        // that never ends, whatever its token says, is left at the host's budget (1 s here), so the exit code still comes.
        var joined = new StoppingService(failStop: false, holdStart: false, holdStopForever: stopIgnoresItsToken);
        var (app, _) = Build(joined, shutdownTimeout: TimeSpan.FromSeconds(1), then: new StoppingService(failStop: false, holdStart: false, failStart: true));
        Assert.Equal(1, await Task.Run(app.RunUntilStopped).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(joined.StopAsked);
    }

    [Fact]
    public async Task A_start_that_fails_does_not_wait_out_the_shutdown_drain_before_stopping_what_started()
    {
        // The drain holds a stop's first step so that a balancer sees a listening server go; a server that never listened
        // has nobody to drain. Before, a failed start waited the whole drain, and the silo that had joined got what was
        // left of the failed start's 30 s stop limit, or nothing, and left without handing its grains over.
        var joined = new StoppingService(failStop: false, holdStart: false);
        var (app, _) = Build(joined, then: new StoppingService(failStop: false, holdStart: false, failStart: true),
            configure: builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Api:Shutdown:Drain"] = "00:00:25" });
                builder.Services.AddTicketingApi();
            });
        Assert.Equal(1, await Task.Run(app.RunUntilStopped).WaitAsync(TimeSpan.FromSeconds(15)));
        Assert.True(joined.StopAsked);
    }

    [Theory]
    [InlineData("Cluster:Membership", "Adonett")]
    [InlineData("Cluster:Address", "silo-1.example")]
    public void A_cluster_setting_refused_while_the_silo_is_configured_exits_1_instead_of_crashing(string setting, string value)
    {
        // As silo/Program.cs runs: these are read while the host is configured, before any start could turn them into
        // one line and exit code 1. Before, they left Main as an unhandled exception (a crash dump, exit code 134).
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "AdoNet",
            ["Storage:Provider"] = "Postgres",
            ["Storage:ConnectionString"] = "Host=127.0.0.1;Database=never_opened",
            [setting] = value,
        });
        var mapped = false;

        Assert.Equal(1, builder.ConfigureAndRun(silo => silo.AddTicketingSilo(), _ => mapped = true));
        Assert.False(mapped);
    }

    [Fact]
    public async Task A_stop_asked_while_a_later_service_starts_stops_the_services_that_started_and_exits_0()
    {
        // As SIGTERM while the web server binds, after the silo joined: the silo leaves too.
        var joined = new StoppingService(failStop: false, holdStart: false);
        var binding = new StoppingService(failStop: false, holdStart: true);
        var (app, _) = Build(joined, then: binding);
        var run = Task.Run(app.RunUntilStopped);
        await binding.Starting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        app.Lifetime.StopApplication();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(joined.StopAsked);
    }

    private static (WebApplication App, StoppingService Service) Build(
        StoppingService service, TimeSpan? shutdownTimeout = null, StoppingService? then = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder();
        configure?.Invoke(builder);
        if (shutdownTimeout is { } timeout) builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = timeout);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostedService>(service);
        if (then is not null) builder.Services.AddSingleton<IHostedService>(then);
        return (builder.Build(), service);
    }

    private static Task WaitAsync(CancellationToken token)
    {
        var signalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => signalled.TrySetResult());
        return signalled.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A hosted service whose start can throw or be held until the stop, and whose stop can throw or wait out its budget.</summary>
    private sealed class StoppingService(bool failStop, bool holdStart, bool holdStop = false, bool failStart = false, bool holdStopForever = false) : IHostedService
    {
        public TaskCompletionSource Starting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool StopAsked { get; private set; }

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            Starting.TrySetResult();
            if (failStart) throw new IOException("Address already in use");
            // The host cancels the start's token when a stop is asked for while starting.
            if (holdStart) await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            StopAsked = true;
            if (holdStopForever) await new TaskCompletionSource().Task;
            if (holdStop)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }
            if (failStop) throw new InvalidOperationException("The stop failed.");
        }
    }
}
