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

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("c2hvcnQ=")]
    public void A_file_without_a_usable_key_is_refused_with_its_path_and_left_as_it_was(string contents)
    {
        Directory.CreateDirectory(_folder);
        File.WriteAllText(KeyPath, contents);

        var error = Assert.Throws<InvalidOperationException>(() => SigningKeyFile.LoadOrCreate(KeyPath));

        Assert.Contains(KeyPath, error.Message);
        // Not replaced by a new key: codes already issued were signed with the old one.
        Assert.Equal(contents, File.ReadAllText(KeyPath));
    }
}
