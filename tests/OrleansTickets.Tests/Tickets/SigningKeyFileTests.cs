using System.Runtime.Versioning;
using OrleansTickets.Tests.Infrastructure;
using OrleansTickets.Tickets;

namespace OrleansTickets.Tests.Tickets;

/// <summary>The development signing key kept in the data folder: created once, private, and checked when read.</summary>
public sealed class SigningKeyFileTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "orleans-tickets-key-" + Guid.NewGuid().ToString("N"));

    private string KeyPath => Path.Combine(_folder, "ticket-signing.key");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void A_new_key_is_readable_by_its_owner_only_and_read_back_the_same()
    {
        var key = SigningKeyFile.LoadOrCreate(KeyPath);

        Assert.Equal(TicketCodeSigner.MinKeyBytes, key.Length);
        Assert.Equal(key, SigningKeyFile.LoadOrCreate(KeyPath));
        // Whoever reads it can forge tickets.
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public async Task Silos_that_find_no_key_file_together_all_end_up_with_the_one_key_the_file_holds()
    {
        // Two silos started at once on one data folder. A rename that replaced a file another creator had just named
        // left the first with a key that existed nowhere once its process ended: every code it signed unverifiable.
        for (var round = 0; round < 20; round++)
        {
            var path = Path.Combine(_folder, $"race-{round}", "ticket-signing.key");
            using var start = new Barrier(8);
            var keys = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                return SigningKeyFile.LoadOrCreate(path);
            }, TaskCreationOptions.LongRunning)));
            var onDisk = SigningKeyFile.LoadOrCreate(path);
            Assert.All(keys, key => Assert.Equal(onDisk, key));
        }
    }

    [UnixTheory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite)]
    [UnsupportedOSPlatform("windows")]
    public void A_key_file_other_users_may_open_is_refused_and_left_as_it_was(UnixFileMode mode)
    {
        var key = SigningKeyFile.LoadOrCreate(KeyPath);
        var contents = File.ReadAllText(KeyPath);
        File.SetUnixFileMode(KeyPath, mode);

        var error = Assert.Throws<InvalidOperationException>(() => SigningKeyFile.LoadOrCreate(KeyPath));

        Assert.Contains(KeyPath, error.Message);
        Assert.Contains("chmod 600", error.Message);
        Assert.Equal(contents, File.ReadAllText(KeyPath));
        Assert.Equal(mode, File.GetUnixFileMode(KeyPath));
        // Made private again, the same key is read: nothing was replaced.
        File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead);
        Assert.Equal(key, SigningKeyFile.LoadOrCreate(KeyPath));
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("c2hvcnQ=")]
    public void A_file_without_a_usable_key_is_refused_with_its_path_and_left_as_it_was(string contents)
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(KeyPath, contents);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(KeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var error = Assert.Throws<InvalidOperationException>(() => SigningKeyFile.LoadOrCreate(KeyPath));

        Assert.Contains(KeyPath, error.Message);
        Assert.Contains("does not hold", error.Message);
        // Not replaced by a new key: codes already issued were signed with the old one.
        Assert.Equal(contents, File.ReadAllText(KeyPath));
    }
}
