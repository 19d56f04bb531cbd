using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Hosting;

/// <summary>How the silo and the front end run their host.</summary>
public static class StoppableRun
{
    private static readonly TimeSpan BudgetClockMargin = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Runs <paramref name="app"/> until it stops, and returns the process's exit code.
    /// <list type="bullet">
    /// <item>A stop (Ctrl+C, SIGTERM) that comes before the start finished, say during the silo's rehearsal or while a
    /// database is waited for, ends the process normally (0): the host has logged it, and the start's cancellation (or
    /// Orleans refusing to stop a silo it never started) would otherwise surface as an unhandled exception, a crash dump
    /// and exit code 134.</item>
    /// <item>A start that failed with no stop asked for (a port in use, say) returns 1 after one line on standard error.</item>
    /// <item>Either way, what did start is stopped first: the web server starts last, so a silo whose HTTP port was
    /// taken (or that was told to stop while its web server bound) had already joined its cluster, and left without a
    /// stop its membership row said it was alive until the others declared it dead (15 to 60 s of calls to it timing
    /// out).</item>
    /// <item>A stop of a started host that failed (a service that threw while stopping) returns 1, so a supervisor or
    /// an operator's script sees that the stop was not clean; the host has logged why.</item>
    /// <item>So does a stop that used up its whole budget (<see cref="HostOptions.ShutdownTimeout"/>), which throws
    /// nothing: the web server cuts its open requests, and Orleans, handed a cancelled token, stops its silo without
    /// handing its grains over, logging a warning for each step it cut short. Purchases other silos route to those
    /// shards then wait for the cluster to declare this silo dead, which is a crash, whatever the host reported.</item>
    /// </list>
    /// </summary>
    public static int RunUntilStopped(this WebApplication app)
    {
        // Taken now: Run disposes the host's services before an exception reaches the filters below.
        var stopping = app.Lifetime.ApplicationStopping;
        var started = app.Lifetime.ApplicationStarted;
        var budget = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
        long stopAsked = 0, stopEnded = 0;
        using var stopClock = stopping.Register(() => stopAsked = Stopwatch.GetTimestamp());
        // The stop's end, not Run's return: disposing the host's services after the stop is not part of the budget.
        using var stopEnd = app.Lifetime.ApplicationStopped.Register(() => stopEnded = Stopwatch.GetTimestamp());
        try
        {
            Run(app, budget);
            // Less a margin: the budget's timer runs on the coarse clock and can fire a few milliseconds before this one.
            if (started.IsCancellationRequested && stopAsked != 0 && stopEnded != 0
                && Stopwatch.GetElapsedTime(stopAsked, stopEnded) >= budget - BudgetClockMargin)
            {
                // The host's services (and its loggers) are disposed by now.
                Console.Error.WriteLine($"The stop used its whole budget of {budget.TotalSeconds:0} s, so its last steps were cut short " +
                    "(a silo may have left without handing its grains over; the warnings above say which): exit code 1.");
                return 1;
            }
            return 0;
        }
        catch (FailedStartException failed)
        {
            return failed.StopAsked ? 0 : StartFailed(failed.InnerException!);
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            return 1;
        }
    }

    /// <summary>
    /// <see cref="WebApplication.Run"/>, except that a start that fails (or that a stop cut short) stops what started
    /// (within <paramref name="budget"/>, and never waiting longer) before it throws: .NET's host disposes its services
    /// after a failed start without stopping them.
    /// </summary>
    private static void Run(WebApplication app, TimeSpan budget)
    {
        try
        {
            app.StartAsync().GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            // Read before the stop below, which sets ApplicationStopping itself. A stop asked for while starting (SIGTERM
            // during the rehearsal, or while the web server binds after the silo joined) stops what started too.
            var stopAsked = app.Lifetime.ApplicationStopping.IsCancellationRequested;
            StopAfterFailedStart(app, budget);
            try
            {
                app.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // The start's failure is what the exit code and the operator hear about.
            }
            throw new FailedStartException(exception, stopAsked);
        }
        try
        {
            // Waits for a stop (Ctrl+C, SIGTERM) and runs it, as Run does.
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
        }
        finally
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Configures the host with <paramref name="configure"/>, builds it, maps it with <paramref name="map"/>, and runs it
    /// as <see cref="RunUntilStopped"/> does. A setting refused while the host is configured (a misspelt
    /// <c>Cluster:Membership</c>, a <c>Cluster:Address</c> that is no IP address, a membership database not named)
    /// ends the process as a failed start does, with one line and exit code 1 rather than an unhandled exception.
    /// </summary>
    public static int ConfigureAndRun(this WebApplicationBuilder builder, Action<WebApplicationBuilder> configure, Action<WebApplication> map)
    {
        WebApplication app;
        try
        {
            configure(builder);
            app = builder.Build();
            map(app);
        }
        catch (Exception refused)
        {
            return StartFailed(refused);
        }
        return app.RunUntilStopped();
    }

    /// <summary>
    /// It could not start, and nobody asked it to stop: a port another process holds, a database that refuses this
    /// service. The host has logged it; without this it would also end as an unhandled exception, a crash dump and exit
    /// code 134, which reads like a bug rather than a setting to fix.
    /// </summary>
    private static int StartFailed(Exception start)
    {
        Console.Error.WriteLine($"The service did not start: {Describe(start)} (exit code 1).");
        return 1;
    }

    /// <summary>
    /// The messages of <paramref name="failure"/> and of the exceptions it wraps, outermost first, each once. The
    /// innermost alone is not enough: for a value it cannot read, .NET's configuration binder names the setting in
    /// the outer exception ("…configuration value at 'Cluster:SiloPort'…") and says what was wrong only in the inner.
    /// </summary>
    internal static string Describe(Exception failure)
    {
        var messages = new List<string>();
        for (var cause = failure; cause is not null; cause = cause.InnerException)
        {
            // Wrappers that only repeat or bundle what they hold.
            if (cause is AggregateException or FailedStartException or System.Reflection.TargetInvocationException) continue;
            if (!messages.Contains(cause.Message)) messages.Add(cause.Message);
        }
        return messages.Count == 0 ? failure.GetBaseException().Message : string.Join(" ", messages);
    }

    /// <summary>A start that failed, or was cut short by a stop asked for (<paramref name="stopAsked"/>), after what did start was stopped.</summary>
    private sealed class FailedStartException(Exception start, bool stopAsked) : Exception(start.Message, start)
    {
        public bool StopAsked { get; } = stopAsked;
    }

    /// <summary>How long stopping what a failed start started may take at most: a silo that joined and holds nothing leaves in seconds.</summary>
    private static readonly TimeSpan FailedStartStopLimit = TimeSpan.FromSeconds(30);

    /// <summary>Stops what a failed start started; never throws, and never waits past the budget or <see cref="FailedStartStopLimit"/>.</summary>
    private static void StopAfterFailedStart(WebApplication app, TimeSpan budget)
    {
        // Bounded below the budget: a start that failed early (a database refusing this service) has a silo that
        // never ran, which Orleans may not stop at all, and the operator waits for the exit code.
        var limit = budget < FailedStartStopLimit ? budget : FailedStartStopLimit;
        using var patience = new CancellationTokenSource(limit);
        try
        {
            // The token alone is not enough: a service may ignore it.
            app.StopAsync(patience.Token).WaitAsync(limit).GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // Why the start failed is what the operator is told, not why this stop failed.
        }
    }
}
