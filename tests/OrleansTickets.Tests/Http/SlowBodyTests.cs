using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A body that arrives slower than Kestrel's minimum data rate is ended by Kestrel; the client hears why, as a problem
/// of its own type, and nothing is sold.
/// </summary>
public sealed class SlowBodyTests
{
    [Fact]
    public async Task A_purchase_whose_body_arrives_too_slowly_is_a_408_problem_and_sells_nothing()
    {
        using var storage = TestStorage.Sqlite();
        // Kestrel's default grace is 5 s; a shorter one keeps the test short, with the same rule.
        await using var host = await ApiHost.StartAsync(storage, services: services => services.Configure<KestrelServerOptions>(
            o => o.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(2))));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("slow-fest", capacity: 10, shards: 1)).StatusCode);

        var address = host.Client.BaseAddress!;
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        await using var stream = socket.GetStream();
        const string body = "{\"ticketTypeId\":\"ga\",\"quantity\":1,\"buyer\":{\"name\":\"Ada\",\"email\":\"ada@example.com\"}}";
        var head = $"POST /api/events/slow-fest/orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + body[..10]));
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = await ReadAnswerAsync(stream, patience.Token);

        Assert.StartsWith("HTTP/1.1 408", answer);
        Assert.Contains("application/problem+json", answer);
        Assert.Contains("request-timeout", answer);
        Assert.Equal(0, await host.Client.SoldAsync("slow-fest"));
    }

    /// <summary>What the server sends until it closes the connection or stops for a second after sending something.</summary>
    private static async Task<string> ReadAnswerAsync(NetworkStream stream, CancellationToken cancellation)
    {
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            if (answer.Length > 0) quiet.CancelAfter(TimeSpan.FromSeconds(1));
            int read;
            try
            {
                read = await stream.ReadAsync(buffer, quiet.Token);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                return answer.ToString();
            }
            if (read == 0) return answer.ToString();
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }
}
