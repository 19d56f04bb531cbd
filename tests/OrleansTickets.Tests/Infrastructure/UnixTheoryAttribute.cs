namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A <see cref="TheoryAttribute"/> for a test of Unix file modes: reported as skipped on Windows, which keeps access in
/// ACLs the service does not read, instead of passing without checking anything.
/// </summary>
public sealed class UnixTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> on Windows.</summary>
    public UnixTheoryAttribute() => Skip = OperatingSystem.IsWindows() ? "Unix file modes; Windows keeps access in ACLs." : null;
}
