using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>An operator's retry of a create is answered by the catalog activation that holds the event.</summary>
public sealed class EventCreateRetryTests
{
    [Fact]
    public async Task A_retried_create_is_200_even_when_another_activation_would_say_there_is_no_such_event()
    {
        // During a membership change a second question may reach a duplicate catalog activation that does not know the
        // event yet (it reads storage again at most once a second); played by answering "no such event" to every read of
        // the definition. The 200-or-409 decision was once taken from such a read, and a plain retry became a 409.
        using var storage = TestStorage.Sqlite();
        var unknowing = new UnknowingDefinitionReads();
        await using var host = await ApiHost.StartAsync(storage,
            services: services => services.AddSingleton<IIncomingGrainCallFilter>(unknowing));
        var first = await host.Client.CreateEventAsync("retried", capacity: 10, shards: 2);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        unknowing.Armed = true;

        var again = await host.Client.CreateEventAsync("retried", capacity: 10, shards: 2);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await again.Content.ReadAsStringAsync());
        await ApiContractTests.AssertProblemAsync(
            await host.Client.CreateEventAsync("retried", capacity: 11, shards: 2), HttpStatusCode.Conflict, "event-exists");
    }

    private sealed class UnknowingDefinitionReads : IIncomingGrainCallFilter
    {
        public volatile bool Armed;

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (Armed && context.InterfaceMethod.Name == nameof(ITicketEventGrain.GetDefinition))
            {
                context.Result = null;
                return;
            }
            await context.Invoke();
        }
    }
}
