using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace OrleansTickets.Api.Hosting;

/// <summary>How the silo and the front end run their host.</summary>
public static class StoppableRun
{
    /// <summary>
    /// Runs <paramref name="app"/> until it stops, and returns the process's exit code.
    /// <list type="bullet">
    /// <item>A stop (Ctrl+C, SIGTERM) that comes before the start finished, say during the silo's rehearsal or while a
    /// database is waited for, ends the process normally (0): the host has logged it, and the start's cancellation (or
    /// Orleans refusing to stop a silo it never started) would otherwise surface as an unhandled exception, a crash dump
    /// and exit code 134.</item>
    /// <item>A stop of a started host that failed (a silo that could not leave its cluster within the stop budget, a
    /// service that threw while stopping) returns 1, so a supervisor or an operator's script sees that the stop was not
    /// clean; the host has logged why.</item>
    /// </list>
    /// </summary>
    public static int RunUntilStopped(this WebApplication app)
    {
        // Taken now: Run disposes the host's services before an exception reaches the filters below.
        var stopping = app.Lifetime.ApplicationStopping;
        var started = app.Lifetime.ApplicationStarted;
        try
        {
            app.Run();
            return 0;
        }
        catch (Exception) when (stopping.IsCancellationRequested && !started.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            return 1;
        }
    }
}
