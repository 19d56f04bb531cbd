using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using OrleansTickets.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>A start-up step waits out a database outage, and nothing else.</summary>
public sealed class DatabaseStartRetryTests
{
    [Theory]
    [InlineData("08006", true)]  // connection failure
    [InlineData("57P01", true)]  // terminated by an administrator (the server restarting)
    [InlineData("57P03", true)]  // the server is starting up
    [InlineData("55000", true)]  // a database closed with ALLOW_CONNECTIONS false
    [InlineData("28P01", false)] // wrong password
    [InlineData("3D000", false)] // no such database
    [InlineData("42P01", false)] // no such table: a bug, not an outage
    public void Only_errors_that_say_not_now_are_outages(string sqlState, bool outage) =>
        Assert.Equal(outage, DatabaseOutage.Is(new PostgresException("played by a test", "FATAL", "FATAL", sqlState)));

    [Fact]
    public void A_refused_connection_is_an_outage_wherever_it_is_wrapped()
    {
        var refused = new SocketException((int)SocketError.ConnectionRefused);
        Assert.True(DatabaseOutage.Is(new NpgsqlException("Failed to connect", refused)));
        Assert.True(DatabaseOutage.Is(new AggregateException(new NpgsqlException("Failed to connect", refused))));
        Assert.False(DatabaseOutage.Is(new InvalidOperationException("The cluster binding differs.")));
    }

    [Fact]
    public async Task A_step_runs_again_until_its_database_answers()
    {
        var calls = 0;
        await DatabaseStartRetry.RunAsync("test step", _ =>
            ++calls < 3 ? Task.FromException(new SocketException((int)SocketError.ConnectionRefused)) : Task.CompletedTask,
            NullLogger.Instance, CancellationToken.None);

        Assert.Equal(3, calls);
    }

    [Fact]
    public async Task Any_other_error_fails_the_step_at_once()
    {
        var calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => DatabaseStartRetry.RunAsync("test step", _ =>
        {
            calls++;
            throw new InvalidOperationException("The cluster binding differs.");
        }, NullLogger.Instance, CancellationToken.None));

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task A_database_that_never_comes_back_fails_the_step_after_the_wait()
    {
        var calls = 0;
        var clock = new LeapingClock(DatabaseStartRetry.GiveUpAfter * 0.6);
        await Assert.ThrowsAsync<SocketException>(() => DatabaseStartRetry.RunAsync("test step", _ =>
        {
            calls++;
            throw new SocketException((int)SocketError.ConnectionRefused);
        }, NullLogger.Instance, CancellationToken.None, clock));

        // Started at 0; the first failure is seen at 0.6 of the wait (tried again), the second at 1.2 (given up).
        Assert.Equal(2, calls);
    }

    /// <summary>A clock that moves on by <paramref name="leap"/> each time it is read.</summary>
    private sealed class LeapingClock(TimeSpan leap) : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UnixEpoch;

        public override DateTimeOffset GetUtcNow() => _now += leap;
    }
}
