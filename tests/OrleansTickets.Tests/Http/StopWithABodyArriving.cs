using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A server stopped while a request's body is still arriving: Kestrel lets a body trickle for a minute and more, and a
/// stop waits for the requests it has, within a budget the silo then needs for its graceful leave.
/// </summary>
public static class StopWithABodyArriving
{
    /// <summary>
    /// Starts a host with the event "crowd" (20 tickets on one shard), sends the request <paramref name="request"/>
    /// makes around a body held back by the gate it is given (<see cref="HeldBody"/>), and stops the host once the
    /// server holds the request. Checks that the stop did not wait for the body and that the request was answered 503
    /// "stopping" or, the server having closed the connection under its unread body, not at all. Returns the answer's
    /// detail, or null when none came; the storage is left for the caller to check that nothing changed.
    /// </summary>
    public static async Task<string?> RunAsync(TestStorage storage, Func<Task, HttpRequestMessage> request)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = await ApiHost.StartAsync(storage);
        Task<HttpResponseMessage> answer;
        TimeSpan stop;
        // A client of its own: the host's client is disposed with the host, which would end the request from the sender's side.
        using var sender = new HttpClient { BaseAddress = host.Client.BaseAddress };
        try
        {
            Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
            using var requests = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.Hosting", "http.server.active_requests");
            answer = sender.SendAsync(request(gate.Task));
            // The stop must begin with the request inside the server, reading its body: before that, the stop would only
            // refuse a connection, and the test would pass without the case it is about.
            await Poll.UntilAsync(() => Task.FromResult(requests.GetMeasurementSnapshot().Sum(m => m.Value) == 1),
                failure: "The slow request never reached the server.");
            var clock = Stopwatch.StartNew();
            try
            {
                await host.Services.GetRequiredService<IHost>().StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException exception)
            {
                // Seen once in a full run (2026-12-07), never alone: say which side held the stop, the web server (the
                // request still in it) or the silo's leave after it, before the finally lets the body through.
                throw new TimeoutException(
                    $"The stop did not end within 60 s; requests still in the server: {requests.GetMeasurementSnapshot().Sum(m => m.Value)}, " +
                    $"the request answered: {answer.IsCompleted}.", exception);
            }
            stop = clock.Elapsed;
        }
        finally
        {
            gate.TrySetResult();
            await host.DisposeAsync();
        }
        Assert.True(stop < TimeSpan.FromSeconds(20), $"The stop took {stop.TotalSeconds:0.0} s while a body was still arriving.");
        try
        {
            var response = await answer.WaitAsync(TimeSpan.FromSeconds(30));
            var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.Contains("stopping", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            return problem.GetProperty("detail").GetString();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
