using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Api.Events;
using OrleansTickets.Dispatch;
using OrleansTickets.Events;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// How the API's event directory asks the catalog: requests that miss together share one question, a question never
/// answers for a request that arrived after it began with "no such event", and no request waits for the catalog
/// longer than the directory's patience (5 s), shared question or not.
/// </summary>
public sealed class EventDirectoryTests
{
    [Fact]
    public async Task Purchases_that_find_an_event_unknown_together_share_one_question_to_the_catalog()
    {
        using var storage = TestStorage.Sqlite();
        var questions = new DefinitionQuestions();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IOutgoingGrainCallFilter>(questions));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd-fest", capacity: 100, shards: 2)).StatusCode);
        questions.Delay = TimeSpan.FromMilliseconds(500);

        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => host.Client.OrderAsync("crowd-fest", 1, key: $"crowd-{i}")));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.StatusCode));
        // One from the API, however many purchases missed together; the dispatchers load the definition on their own
        // (one per activation at a time, and a stateless worker has at most one activation per core).
        Assert.Equal(1, questions.CountFromApi("event/crowd-fest"));
        Assert.InRange(questions.Count("event/crowd-fest") - 1, 0, 1 + Environment.ProcessorCount);
    }

    [Fact]
    public async Task A_request_that_arrives_after_the_event_was_created_is_not_told_no_such_event_by_an_older_question()
    {
        using var storage = TestStorage.Sqlite();
        var questions = new DefinitionQuestions { HoldAnswersOf = "event/late-fest" };
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IOutgoingGrainCallFilter>(questions));
        var directory = host.Services.GetRequiredService<EventDirectory>();

        // The first request's question is answered "no such event", and that answer held back, still in flight.
        var early = directory.FindAsync("late-fest").AsTask();
        var first = await questions.Held.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("late-fest", capacity: 10, shards: 1)).StatusCode);
        // Created and acknowledged. A request made now joins the question in flight (FindAsync joins before it returns,
        // and has nothing else to wait for), and must not take its answer.
        var late = directory.FindAsync("late-fest").AsTask();
        Assert.False(late.IsCompleted);
        questions.HoldAnswersOf = null;
        first.SetResult();

        Assert.Null(await early);
        Assert.Equal("late-fest", (await late.WaitAsync(TimeSpan.FromSeconds(30)))?.Definition.Id);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("late-fest", 1)).StatusCode);
        Assert.Equal(1, await host.Client.SoldAsync("late-fest"));
    }

    [Fact]
    public async Task A_hung_catalog_question_is_given_up_at_the_patience_so_a_later_purchase_asks_afresh()
    {
        using var storage = TestStorage.Sqlite();
        var questions = new DefinitionQuestions();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IOutgoingGrainCallFilter>(questions));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("hung-fest", capacity: 10, shards: 1)).StatusCode);

        // The directory's first question hangs (a catalog whose silo froze: Orleans would answer at its 30 s timeout).
        questions.HoldAnswersOf = "event/hung-fest";
        var first = host.Client.OrderAsync("hung-fest", 1, key: "first");
        var hung = await questions.Held.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        questions.HoldAnswersOf = null;
        try
        {
            await ApiContractTests.AssertProblemAsync(await first, HttpStatusCode.ServiceUnavailable, "unavailable");
            // The catalog answers again. A purchase now asks it afresh, rather than joining the hung question and
            // timing out in its turn until Orleans gives that question up.
            Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("hung-fest", 1, key: "second")).StatusCode);
            Assert.Equal(1, await host.Client.SoldAsync("hung-fest"));
        }
        finally
        {
            hung.SetResult();
        }
    }

    [Fact]
    public async Task A_request_that_must_ask_again_waits_no_longer_in_all_than_the_patience()
    {
        using var storage = TestStorage.Sqlite();
        var questions = new DefinitionQuestions { HoldAnswersOf = "event/slow-fest" };
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IOutgoingGrainCallFilter>(questions));
        var directory = host.Services.GetRequiredService<EventDirectory>();

        var early = directory.FindAsync("slow-fest").AsTask();
        var first = await questions.Held.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var arrived = Stopwatch.GetTimestamp();
        var late = directory.FindAsync("slow-fest").AsTask();
        // The older question says "no such event" 4 s after the late request joined it (within the question's own
        // patience); that request asks again, and that question hangs. It may wait what is left of its 5 s, not 5 s
        // more (9 s in all).
        await Task.Delay(TimeSpan.FromSeconds(4));
        first.SetResult();
        Assert.Null(await early);
        try
        {
            await Assert.ThrowsAsync<TimeoutException>(() => late);
            Assert.InRange(Stopwatch.GetElapsedTime(arrived), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(7.5));
        }
        finally
        {
            questions.HoldAnswersOf = null;
            while (questions.Held.Reader.TryRead(out var held)) held.SetResult();
        }
    }

    [Fact]
    public async Task A_dispatcher_that_cannot_find_an_event_the_directory_found_gets_the_buyer_a_503_not_a_404()
    {
        using var storage = TestStorage.Sqlite();
        var questions = new DefinitionQuestions();
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IOutgoingGrainCallFilter>(questions));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("twin-fest", capacity: 10, shards: 1)).StatusCode);

        // As a catalog activation that cannot say yet would answer the dispatcher; the directory hears the truth.
        questions.DispatchersHearNoEvent = true;
        var refused = await host.Client.OrderAsync("twin-fest", 1, key: "k1");

        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Equal(0, await host.Client.SoldAsync("twin-fest"));
        questions.DispatchersHearNoEvent = false;
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("twin-fest", 1, key: "k1")).StatusCode);
    }

    /// <summary>
    /// Watches the catalog's definition questions as they leave their caller: counts them per catalog grain, can slow
    /// them, can hold back the answers that the API (not a grain) gets for one grain, and can tell dispatchers that
    /// no event exists.
    /// </summary>
    private sealed class DefinitionQuestions : IOutgoingGrainCallFilter
    {
        private readonly ConcurrentDictionary<string, int> _counts = new();
        private readonly ConcurrentDictionary<string, int> _fromApi = new();

        public TimeSpan Delay { get; set; }

        /// <summary>The catalog grain whose answers to the API are held, each until the test completes it from <see cref="Held"/>.</summary>
        public string? HoldAnswersOf { get; set; }

        public Channel<TaskCompletionSource> Held { get; } = Channel.CreateUnbounded<TaskCompletionSource>();

        public bool DispatchersHearNoEvent { get; set; }

        public int Count(string grainKey) => _counts.GetValueOrDefault(grainKey);

        /// <summary>The questions the API itself asked (from outside any grain), not the dispatchers' own loads.</summary>
        public int CountFromApi(string grainKey) => _fromApi.GetValueOrDefault(grainKey);

        public async Task Invoke(IOutgoingGrainCallContext call)
        {
            if (call.InterfaceMethod.Name != nameof(ITicketEventGrain.GetDefinition))
            {
                await call.Invoke();
                return;
            }
            var key = call.TargetId.Key.ToString()!;
            _counts.AddOrUpdate(key, 1, (_, n) => n + 1);
            if (call.SourceContext is null) _fromApi.AddOrUpdate(key, 1, (_, n) => n + 1);
            if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
            if (DispatchersHearNoEvent && call.SourceContext?.GrainInstance is PurchaseDispatcherGrain)
            {
                call.Result = null;
                return;
            }
            await call.Invoke();
            if (call.SourceContext is null && key == HoldAnswersOf)
            {
                var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Held.Writer.TryWrite(release);
                await release.Task;
            }
        }
    }
}
