using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using System.Diagnostics.Metrics;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// An operator's body still arriving when the server begins to stop is given up, as a purchase's is: Kestrel lets a
/// body trickle at 240 bytes a second, and the stop waits for the requests it has within the budget the silo then needs
/// to leave its cluster properly.
/// </summary>
public sealed class OperatorBodyStopTests
{
    [Theory]
    [InlineData("/api/events", """{"id":"late","name":"Late","ticketTypes":[{"id":"ga","name":"GA","price":1,"currency":"EUR","capacity":5,"shards":1,"maxPerOrder":2}]}""", "Nothing was created.")]
    [InlineData("/api/events/crowd/ticket-types/ga/capacity", """{"quantity":5}""", "Nothing was added.")]
    [InlineData("/api/events/crowd/ticket-types/ga/shards/0/drain", "{}", "Nothing moved.")]
    public async Task A_body_still_arriving_when_the_server_stops_does_not_hold_the_stop_and_changes_nothing(string path, string body, string detail)
    {
        using var storage = TestStorage.Sqlite();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = await ApiHost.StartAsync(storage);
        Task<HttpResponseMessage> answer;
        TimeSpan stop;
        // A client of its own: the host's client is disposed with the host, which would end the request from the operator's side.
        using (var operatorClient = new HttpClient { BaseAddress = host.Client.BaseAddress })
        {
            try
            {
                Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
                using var requests = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.Hosting", "http.server.active_requests");
                answer = operatorClient.SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = new HeldBody(body, gate.Task) });
                // The stop must begin with the request inside the server, reading its body.
                await Poll.UntilAsync(() => Task.FromResult(requests.GetMeasurementSnapshot().Sum(m => m.Value) == 1),
                    failure: "The slow request never reached the server.");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                await host.Services.GetRequiredService<IHost>().StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
                stop = clock.Elapsed;
            }
            finally
            {
                gate.TrySetResult();
                await host.DisposeAsync();
            }
            // The operator was told to retry elsewhere, or (the server closed the connection under its unread body) got no answer.
            try
            {
                var response = await answer.WaitAsync(TimeSpan.FromSeconds(30));
                var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
                Assert.StartsWith(detail, problem.GetProperty("detail").GetString());
            }
            catch (HttpRequestException)
            {
            }
        }

        Assert.True(stop < TimeSpan.FromSeconds(20), $"The stop took {stop.TotalSeconds:0.0} s while a body was still arriving.");
        await using var again = await ApiHost.StartAsync(storage);
        var type = (await (await again.Client.GetAsync("/api/events/crowd/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal(20, type.GetProperty("capacity").GetInt64());
        Assert.False(type.GetProperty("shards")[0].GetProperty("retired").GetBoolean());
        Assert.Equal(HttpStatusCode.NotFound, (await again.Client.GetAsync("/api/events/late")).StatusCode);
    }
}
