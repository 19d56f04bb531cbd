using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Runtime.Messaging;
using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>
/// A front end starting waits for its cluster while the cluster or its membership database is out for a moment or not
/// made yet (the first silo makes it), and fails at once when the database refuses it: a wrong password is a setting to
/// fix, not an outage to wait out.
/// </summary>
public sealed class GatewayConnectionRetryTests
{
    [Theory]
    [InlineData("57P03", true)]  // the server is starting up
    [InlineData("08006", true)]  // connection failure
    [InlineData("3D000", true)]  // no such database: the first silo has not made it yet
    [InlineData("42P01", true)]  // no such table: nor the membership schema
    [InlineData("28P01", false)] // wrong password
    [InlineData("42501", false)] // no privilege on the membership tables
    [InlineData("42601", false)] // a syntax error: a bug, not a wait
    public async Task A_membership_database_error_is_waited_out_only_when_it_says_not_now_or_not_made_yet(string sqlState, bool retried)
    {
        var retry = new GatewayConnectionRetry(TimeProvider.System, NullLogger<GatewayConnectionRetry>.Instance);

        Assert.Equal(retried, await retry.ShouldRetryConnectionAttempt(
            new PostgresException("played by a test", "FATAL", "FATAL", sqlState), CancellationToken.None));
    }

    [Fact]
    public async Task A_gateway_not_listening_yet_or_a_refused_database_connection_is_waited_out()
    {
        var retry = new GatewayConnectionRetry(TimeProvider.System, NullLogger<GatewayConnectionRetry>.Instance);
        var refused = new SocketException((int)SocketError.ConnectionRefused);

        Assert.True(await retry.ShouldRetryConnectionAttempt(new ConnectionFailedException("no gateway yet"), CancellationToken.None));
        Assert.True(await retry.ShouldRetryConnectionAttempt(new NpgsqlException("Failed to connect", refused), CancellationToken.None));
        Assert.False(await retry.ShouldRetryConnectionAttempt(new InvalidOperationException("a bug"), CancellationToken.None));
    }
}
