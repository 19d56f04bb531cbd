namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Waiting for something the system does by itself (a retry timer, a reconnect), with a bound.</summary>
public static class Poll
{
    public static async Task UntilAsync(Func<Task<bool>> condition, int attempts = 100, int delayMilliseconds = 100)
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if (await condition()) return;
            await Task.Delay(delayMilliseconds);
        }
        throw new Xunit.Sdk.XunitException("The condition never became true.");
    }
}
