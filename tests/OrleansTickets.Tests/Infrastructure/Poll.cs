namespace OrleansTickets.Tests.Infrastructure;

/// <summary>Waiting for something the system does by itself (a retry timer, a reconnect), with a bound.</summary>
public static class Poll
{
    /// <summary>
    /// Asks <c>condition</c> up to <c>attempts</c> times, <c>delayMilliseconds</c> apart; fails the test with
    /// <c>failure</c> if it never holds.
    /// </summary>
    public static async Task UntilAsync(
        Func<Task<bool>> condition, int attempts = 100, int delayMilliseconds = 100, string failure = "The condition never became true.")
    {
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if (await condition()) return;
            await Task.Delay(delayMilliseconds);
        }
        throw new Xunit.Sdk.XunitException(failure);
    }
}
