namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A small file system of a test's own (tmpfs, mounted for the test and unmounted after it) that the test can fill to
/// the last byte, so that the service meets a full disk for real: the writes that need new space fail, and writes
/// into space a file already holds do not.
/// </summary>
/// <remarks>Mounting needs root on Linux (<see cref="SmallDiskFactAttribute"/>).</remarks>
public sealed class SmallDisk : IAsyncDisposable
{
    private SmallDisk(string path) => Path = path;

    /// <summary>The mounted folder.</summary>
    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    /// <summary>Whether this process may mount one: root on Linux, and allowed to mount (a container may not be).</summary>
    public static bool CanMount => Mountable.Value;

    private static readonly Lazy<bool> Mountable = new(() =>
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess) return false;
        try
        {
            MountAsync(megabytes: 1).GetAwaiter().GetResult().DisposeAsync().AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (Exception)
        {
            // No mount command, or not allowed to mount (a container without the privilege).
            return false;
        }
    });

    /// <summary>Mounts a file system of <paramref name="megabytes"/> MB in a new temporary folder.</summary>
    public static async Task<SmallDisk> MountAsync(int megabytes)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "orleans-tickets-disks", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        try
        {
            await PostgresServer.RunAsync("mount", ["-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path]);
        }
        catch
        {
            Directory.Delete(path);
            throw;
        }
        return new SmallDisk(path);
    }

    /// <summary>Takes every free byte with a file of its own; returns how many it took.</summary>
    public long Fill()
    {
        var chunk = new byte[4096];
        using var filler = new FileStream(Filler, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1);
        try
        {
            while (true) filler.Write(chunk);
        }
        catch (IOException)
        {
            // No space left: what was written stays.
        }
        return filler.Length;
    }

    /// <summary>Gives back what <see cref="Fill"/> took.</summary>
    public void Free() => File.Delete(Filler);

    public async ValueTask DisposeAsync()
    {
        // Lazily: a file the test left open (a pooled SQLite connection) must not keep the mount, nor fail the test.
        await PostgresServer.RunAsync("umount", ["-l", Path]);
        Directory.Delete(Path);
    }
}
