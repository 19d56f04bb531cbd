using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace OrleansTickets.Api.Hosting;

/// <summary>How the silo and the front end run their host.</summary>
public static class StoppableRun
{
    /// <summary>
    /// Runs <paramref name="app"/> until it stops. A stop (Ctrl+C, SIGTERM) that comes before the start finished, say
    /// during the silo's rehearsal or while a database is waited for, ends the process normally: the host has logged it,
    /// and the start's cancellation (or Orleans refusing to stop a silo it never started) would otherwise surface as an
    /// unhandled exception, a crash dump and exit code 134.
    /// </summary>
    public static void RunUntilStopped(this WebApplication app)
    {
        // Taken now: Run disposes the host's services before an exception reaches the filter below.
        var stopping = app.Lifetime.ApplicationStopping;
        try
        {
            app.Run();
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // An asked-for stop; see the summary.
        }
    }
}
