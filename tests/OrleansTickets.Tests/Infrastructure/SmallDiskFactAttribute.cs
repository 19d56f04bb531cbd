namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A <see cref="FactAttribute"/> for tests that mount a <see cref="SmallDisk"/>: reported as skipped where this process
/// may not mount (not root, not Linux), except on CI (<c>CI=true</c>, where the suite runs as root) where it runs and fails.
/// </summary>
public sealed class SmallDiskFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when this process cannot mount one, outside CI.</summary>
    public SmallDiskFactAttribute() => Skip = !SmallDisk.CanMount && !PostgresServer.IsCi
        ? "Mounting a small tmpfs needs root on Linux; with CI=true this is a failure."
        : null;
}
