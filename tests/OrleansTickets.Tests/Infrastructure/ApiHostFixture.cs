namespace OrleansTickets.Tests.Infrastructure;

/// <summary>One real service shared by the tests of a class; each test uses event ids of its own.</summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    private readonly TestStorage _storage = TestStorage.Sqlite();

    public ApiHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ApiHost.StartAsync(_storage);

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        _storage.Dispose();
    }
}
