using System.Data.Common;
using System.Net.Sockets;

namespace OrleansTickets.Hosting;

/// <summary>
/// Tells a database that cannot be reached now (worth waiting for) from one that refuses this service (a wrong
/// password, a missing database, a bug), which no wait mends: a silo's start-up steps and a front end's connection to
/// its cluster wait out the first and fail at once on the second.
/// </summary>
/// <remarks>
/// Read through <see cref="DbException"/> alone (its <c>SqlState</c> is PostgreSQL's code for Npgsql's errors), so a
/// front end, which holds no driver types of its own, decides as the silo does.
/// </remarks>
public static class DatabaseOutage
{
    /// <summary>True when <paramref name="exception"/>, or an exception it wraps, says the database cannot be reached now.</summary>
    public static bool Is(Exception exception) => exception switch
    {
        // Class 08 (connection), 57P01-57P03 (shutting down, crashed, starting up), and 55000, which is what a database
        // closed with ALLOW_CONNECTIONS false answers.
        DbException database => database.IsTransient
            || database.SqlState is { } state && (state.StartsWith("08", StringComparison.Ordinal) || state is "57P01" or "57P02" or "57P03" or "55000")
            || (database.InnerException is { } inner && Is(inner)),
        SocketException or TimeoutException => true,
        _ => exception.InnerException is { } cause && Is(cause),
    };
}
