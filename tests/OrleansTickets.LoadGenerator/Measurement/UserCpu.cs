using System.Globalization;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// CPU time used by every process of one Unix user, from Linux's <c>/proc</c>: the database server's share of the
/// machine when it runs as its own user (PostgreSQL as <c>postgres</c>), which no single process id covers.
/// </summary>
/// <remarks>
/// Only processes alive at the moment of reading count. A server's pooled connections and its background workers
/// live through a sale, so the difference of two readings is its CPU over the sale; a backend that exits in between
/// takes its time with it, so the figure can only be low.
/// </remarks>
public static class UserCpu
{
    /// <summary>
    /// User plus system time of the user's live processes; null when the user or <c>/proc</c> cannot be read, or when
    /// the user runs nothing: a server running as someone else would otherwise be reported as using no CPU at all.
    /// </summary>
    public static TimeSpan? Read(string user)
    {
        if (!Directory.Exists("/proc") || ProcFiles.ReadOrNull("/etc/passwd") is not { } passwd || UidOf(user, passwd) is not { } uid) return null;
        TimeSpan? total = null;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var pid = Path.GetFileName(directory);
            if (!pid.All(char.IsAsciiDigit)) continue;
            if (ProcFiles.ReadOrNull($"{directory}/status") is not { } status || RealUid(status) != uid) continue;
            if (ProcessCpu.Read(int.Parse(pid, CultureInfo.InvariantCulture)) is { } cpu) total = (total ?? TimeSpan.Zero) + cpu;
        }
        return total;
    }

    /// <summary>The uid of <paramref name="user"/> in the text of an <c>/etc/passwd</c> file; null when absent.</summary>
    public static int? UidOf(string user, string passwd)
    {
        foreach (var line in passwd.Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length > 2 && fields[0] == user && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)) return uid;
        }
        return null;
    }

    /// <summary>The real uid in the text of a <c>/proc/&lt;pid&gt;/status</c> file; null when it has none.</summary>
    public static int? RealUid(string status)
    {
        foreach (var line in status.Split('\n'))
        {
            if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
            var fields = line[4..].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid) ? uid : null;
        }
        return null;
    }
}
