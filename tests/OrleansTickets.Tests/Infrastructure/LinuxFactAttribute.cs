namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A <see cref="FactAttribute"/> for a test that reads what only Linux offers (<c>/proc/self/fd</c>): reported as skipped
/// elsewhere, instead of passing without checking anything.
/// </summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> off Linux.</summary>
    public LinuxFactAttribute() => Skip = OperatingSystem.IsLinux() ? null : "Reads /proc, which is Linux's.";
}
