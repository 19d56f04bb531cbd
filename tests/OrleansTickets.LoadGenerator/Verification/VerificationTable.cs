namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>Prints checks as an aligned PASS/FAIL table.</summary>
public static class VerificationTable
{
    public static void Write(TextWriter output, IReadOnlyList<VerificationCheck> checks)
    {
        var nameWidth = checks.Select(c => c.Name.Length).Append("check".Length).Max();
        var scopeWidth = checks.Select(c => c.Scope.Length).Append("type".Length).Max();
        output.WriteLine($"{"check".PadRight(nameWidth)}  {"type".PadRight(scopeWidth)}  result  detail");
        foreach (var check in checks)
        {
            output.WriteLine($"{check.Name.PadRight(nameWidth)}  {check.Scope.PadRight(scopeWidth)}  {(check.Passed ? "PASS" : "FAIL"),-6}  {check.Detail}");
        }
        var failed = checks.Count(c => !c.Passed);
        output.WriteLine(failed == 0 ? $"verification: PASS ({checks.Count} checks)" : $"verification: FAIL ({failed} of {checks.Count} checks failed)");
    }
}
