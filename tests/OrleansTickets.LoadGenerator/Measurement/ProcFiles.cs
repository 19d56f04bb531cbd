namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Reading Linux's <c>/proc</c>, whose files can vanish (a process that exited) or be closed to this user.</summary>
public static class ProcFiles
{
    /// <summary>Clock ticks per second in <c>/proc</c>'s CPU times: USER_HZ, which Linux fixes at 100 for user space whatever the kernel's own HZ.</summary>
    public const double TicksPerSecond = 100;

    /// <summary>The file's text; null when it cannot be read.</summary>
    public static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
