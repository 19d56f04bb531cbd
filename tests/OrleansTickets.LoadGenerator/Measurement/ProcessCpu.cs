using System.Globalization;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>CPU time another process has used, from Linux's <c>/proc/&lt;pid&gt;/stat</c>.</summary>
/// <remarks>
/// Read by the generator itself at the moments its clock starts and stops, so the service's CPU per order covers
/// exactly the sale, not the waiting room before it or the verification after it; and, for the latency timeline,
/// every 50 ms in between (<see cref="CpuTimeline"/>).
/// </remarks>
public static class ProcessCpu
{
    /// <summary>User plus system time of process <paramref name="pid"/>; null when it cannot be read.</summary>
    public static TimeSpan? Read(int pid) =>
        ProcFiles.ReadOrNull($"/proc/{pid}/stat") is { } text ? Parse(text) : null;

    /// <summary>User plus system time from the text of a <c>stat</c> file; null when it is not one.</summary>
    public static TimeSpan? Parse(string stat)
    {
        // Field 2 is the command name in parentheses and may itself hold spaces and parentheses, so fields are
        // counted from the last ')'. utime and stime are fields 14 and 15: the 12th and 13th after it.
        var end = stat.LastIndexOf(')');
        if (end < 0) return null;
        var fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var system))
        {
            return null;
        }
        return TimeSpan.FromSeconds((user + system) / ProcFiles.TicksPerSecond);
    }
}
