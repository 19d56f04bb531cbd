namespace OrleansTickets.LoadGenerator;

/// <summary>Process exit codes, so scripts can tell a failed check from a run that never finished.</summary>
public static class ExitCodes
{
    public const int Passed = 0;
    public const int CheckFailed = 1;
    public const int Usage = 2;
    public const int CouldNotFinish = 3;
}
