using System.Globalization;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// CPU time the hypervisor gave to other guests while this machine's cores wanted it ("steal"), from Linux's
/// <c>/proc/stat</c>.
/// </summary>
/// <remarks>
/// On a shared virtual machine the same build sells at very different speeds depending on its neighbours: the tenth
/// session saw the service's CPU per order and the HTTP floor both move by 2× between hours. A run that says how much
/// of the machine it lost this way can be compared with another; one that does not only looks faster or slower.
/// </remarks>
public static class HypervisorSteal
{
    /// <summary>Steal summed over every core since boot; null when it cannot be read (not Linux, or no such column).</summary>
    public static TimeSpan? Read() =>
        ProcFiles.ReadOrNull("/proc/stat") is { } text ? Parse(text) : null;

    /// <summary>Steal from the text of <c>/proc/stat</c>; null when it has no such column.</summary>
    public static TimeSpan? Parse(string stat)
    {
        // The first line sums every core: "cpu  user nice system idle iowait irq softirq steal guest guest_nice".
        var end = stat.IndexOf('\n');
        var fields = (end < 0 ? stat : stat[..end]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 9 || fields[0] != "cpu"
            || !long.TryParse(fields[8], NumberStyles.None, CultureInfo.InvariantCulture, out var steal))
        {
            return null;
        }
        return TimeSpan.FromSeconds(steal / ProcFiles.TicksPerSecond);
    }
}
