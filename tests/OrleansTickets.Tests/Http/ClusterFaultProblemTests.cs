using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>A request the cluster cannot answer in time is a 503 problem with Retry-After, whatever the client accepts.</summary>
public sealed class ClusterFaultProblemTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("text/html")]
    [InlineData("application/xml")]
    public async Task A_catalog_that_times_out_is_503_unavailable_with_retry_after(string? accept)
    {
        using var storage = TestStorage.Sqlite();
        var timingOut = new TaskCompletionSource();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(
            new TimingOutCatalog(timingOut.Task)));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("slow", capacity: 10, shards: 1)).StatusCode);
        timingOut.SetResult();

        var request = new HttpRequestMessage(HttpMethod.Get, "/api/events/slow");
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        var response = await host.Client.SendAsync(request);

        await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal("1", response.Headers.GetValues("Retry-After").Single());
    }

    /// <summary>Once armed, every call to an event's catalog fails as a call that got no answer in time.</summary>
    private sealed class TimingOutCatalog(Task armed) : IIncomingGrainCallFilter
    {
        public Task Invoke(IIncomingGrainCallContext call) =>
            armed.IsCompleted && call.InterfaceMethod.DeclaringType == typeof(ITicketEventGrain)
                ? throw new TimeoutException("The catalog did not answer in time (played by a test).")
                : call.Invoke();
    }
}
