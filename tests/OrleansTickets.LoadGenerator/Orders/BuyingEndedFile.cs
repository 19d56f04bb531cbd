using System.Globalization;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// The moment an orders run's buyers stopped buying, on disk (<c>--buying-ended-file</c>). The process lives on after it,
/// asking again about unanswered orders and checking the sale, for up to half a minute: a script that fires faults
/// beside the sale (<c>scripts/chaos.sh</c>) would otherwise take a fault fired then for one that met buyers.
/// </summary>
public static class BuyingEndedFile
{
    /// <summary>
    /// Writes <paramref name="endedAt"/> as microseconds since the Unix epoch (the unit of bash's <c>EPOCHREALTIME</c>
    /// without its point), whole or not at all: written aside, then moved into place, so a reader that finds the file
    /// finds the number.
    /// </summary>
    public static async Task WriteAsync(string path, DateTimeOffset endedAt)
    {
        var aside = path + ".writing";
        var microseconds = (endedAt - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
        await File.WriteAllTextAsync(aside, microseconds.ToString(CultureInfo.InvariantCulture) + "\n");
        File.Move(aside, path, overwrite: true);
    }
}
