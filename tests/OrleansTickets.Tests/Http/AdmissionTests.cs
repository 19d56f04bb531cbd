using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansTickets.Api;
using OrleansTickets.Api.Orders;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>Past the admission limit a purchase is refused at once, with Retry-After, before it can change anything.</summary>
public sealed class AdmissionTests : IAsyncLifetime
{
    private const string Body = """{"ticketTypeId":"ga","quantity":1,"buyer":{"name":"Ada Lovelace","email":"ada@example.com"}}""";

    private readonly TestStorage _storage = TestStorage.Sqlite();
    private ApiHost _host = null!;

    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(_storage, new Dictionary<string, string?>
    {
        ["Api:Admission:MaxInFlight"] = "1",
        ["Api:Admission:MaxQueued"] = "0",
    });

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _storage.Dispose();
    }

    [Fact]
    public async Task A_purchase_past_the_limit_gets_503_overloaded_and_sells_nothing()
    {
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Admission comes before the body is read, so a purchase whose body is held back keeps the only slot.
        var held = HeldPurchase.Send(_host.Client, gate.Task);
        var sold = 0;
        HttpResponseMessage? refused = null;
        string? refusedKey = null;
        for (var probe = 0; probe < 50 && refused is null; probe++)
        {
            await Task.Delay(50);
            var key = $"probe-{probe}";
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/crowd/orders") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Idempotency-Key", key);
            // A refusal is JSON problem details even for a client that prefers HTML.
            request.Headers.Accept.ParseAdd("text/html");
            var response = await _host.Client.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Created)
            {
                (refused, refusedKey) = (response, key);
                continue;
            }
            sold++;
            // The probe got the slot, so the held purchase did not have it: it was still on its way, or it arrived
            // while this probe ran and was refused (the client only reads that once its body is sent). Its body never
            // arrived whole, so it sold nothing; send it again.
            await held.AbandonAsync();
            held = HeldPurchase.Send(_host.Client, gate.Task);
        }

        Assert.NotNull(refused);
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());

        gate.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await held.Response).StatusCode);
        // Had the refused purchase reached a shard, its key would now replay (200). It was never seen: 201, a new order.
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.OrderAsync("crowd", 1, refusedKey)).StatusCode);
        Assert.Equal(sold + 2, await _host.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task Purchases_still_waiting_when_the_server_begins_to_stop_are_refused_and_sell_nothing()
    {
        // One is admitted, one queues behind it; neither body has arrived when the stop begins. The stop waits for
        // requests in flight, and its budget is shared with the silo's graceful leave: queued purchases served one by
        // one would spend it, so they are sent elsewhere at once instead.
        using var storage = TestStorage.Sqlite();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        HttpResponseMessage[] answers;
        await using (var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:Admission:MaxInFlight"] = "1",
            ["Api:Admission:MaxQueued"] = "4",
            // The queued purchase must still be waiting when the stop begins, however slow the machine.
            ["Api:Admission:MaxQueueWait"] = "00:01:00",
        }))
        {
            Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
            using var admission = new AdmissionGauge(host.Services.GetRequiredService<IMeterFactory>());
            var purchases = new[] { HeldPurchase.Send(host.Client, gate.Task, "first"), HeldPurchase.Send(host.Client, gate.Task, "second") };
            // Observed, not waited for: a stop begun before the second purchase queued would refuse its connection instead.
            await Poll.UntilAsync(() => Task.FromResult(admission is { Admitted: 1, Queued: 1 }),
                failure: $"The purchases never stood one admitted and one queued (admitted {admission.Admitted}, queued {admission.Queued}).");

            host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
            gate.SetResult();
            answers = await Task.WhenAll(purchases.Select(p => p.Response));
        }

        foreach (var answer in answers)
        {
            var problem = await ApiContractTests.AssertProblemAsync(answer, HttpStatusCode.ServiceUnavailable, "unavailable");
            Assert.Contains("stopping", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            Assert.Equal("1", answer.Headers.GetValues("Retry-After").Single());
        }
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(0, await again.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task A_purchase_whose_body_is_still_arriving_when_the_server_stops_does_not_hold_the_stop_and_sells_nothing()
    {
        // Kestrel lets a body trickle for a minute and more, and a stop waits for the requests it has, within a budget
        // the silo then needs for its graceful leave: the read gives up when the stop begins.
        using var storage = TestStorage.Sqlite();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = await ApiHost.StartAsync(storage);
        Task<HttpResponseMessage> answer;
        TimeSpan stop;
        // A client of its own: the host's client is disposed with the host, which would end the request from the buyer's side.
        using (var buyer = new HttpClient { BaseAddress = host.Client.BaseAddress })
        {
            try
            {
                Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
                answer = HeldPurchase.Send(buyer, gate.Task, "slow-body").Response;
                await Task.Delay(500);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                await host.Services.GetRequiredService<IHost>().StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
                stop = clock.Elapsed;
            }
            finally
            {
                gate.TrySetResult();
                await host.DisposeAsync();
            }
            // The buyer was told to go elsewhere, or (the server closed the connection under its unread body) got no answer.
            try
            {
                var response = await answer.WaitAsync(TimeSpan.FromSeconds(30));
                var problem = await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable, "unavailable");
                Assert.Contains("stopping", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            }
            catch (HttpRequestException)
            {
            }
        }

        Assert.True(stop < TimeSpan.FromSeconds(20), $"The stop took {stop.TotalSeconds:0.0} s while a body was still arriving.");
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(0, await again.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task A_purchase_that_waited_its_longest_for_a_slot_gets_503_overloaded_and_sells_nothing()
    {
        using var storage = TestStorage.Sqlite();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:Admission:MaxInFlight"] = "1",
            ["Api:Admission:MaxQueued"] = "4",
            ["Api:Admission:MaxQueueWait"] = "00:00:01",
        });
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
        // A first sale activates the shard, so that a probe holding the slot is done long before the held purchase,
        // queued behind it, would give up.
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("crowd", 1, "warm")).StatusCode);
        var held = HeldPurchase.Send(host.Client, gate.Task, "first");
        HttpResponseMessage? waited = null;
        string? waitedKey = null;
        var sold = 0;
        try
        {
            // The held purchase keeps the only slot once it has it (admission comes before its body), so a probe then
            // queues; a probe that got the slot first simply sold, and the next one tries again.
            for (var probe = 0; probe < 20 && waited is null; probe++)
            {
                var key = $"probe-{probe}";
                var response = await host.Client.OrderAsync("crowd", 1, key).WaitAsync(TimeSpan.FromSeconds(10));
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    sold++;
                    // The probe got the slot first, and the held purchase queued behind it: on a slow machine the probe
                    // can keep the slot past that purchase's 1 s in the queue, and it is refused (sold nothing: its body
                    // never arrived). Sent again, it takes the slot before the next probe, as in the test above.
                    await held.AbandonAsync();
                    held = HeldPurchase.Send(host.Client, gate.Task, "first");
                    await Task.Delay(100);
                    continue;
                }
                (waited, waitedKey) = (response, key);
            }
        }
        finally
        {
            gate.TrySetResult();
        }

        // Before, it waited for the slot as long as the held purchase kept it (here, past the probe's 10 s).
        Assert.NotNull(waited);
        await ApiContractTests.AssertProblemAsync(waited, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", waited.Headers.GetValues("Retry-After").Single());
        Assert.Equal(HttpStatusCode.Created, (await held.Response).StatusCode);
        // It was never seen: its key makes a new order, not a replay.
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("crowd", 1, waitedKey)).StatusCode);
        Assert.Equal(sold + 3, await host.Client.SoldAsync("crowd"));
    }

    [Fact]
    public void A_queue_wait_of_zero_is_refused()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Admission:MaxQueueWait"] = "00:00:00",
        }).Build();
        using var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddTicketingApi().BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<PurchaseAdmissionOptions>>().Value);

        Assert.Contains("Api:Admission:MaxQueueWait", error.Message);
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("10", "-1")]
    public void Admission_limits_below_one_in_flight_or_a_negative_queue_are_refused(string maxInFlight, string maxQueued)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Admission:MaxInFlight"] = maxInFlight,
            ["Api:Admission:MaxQueued"] = maxQueued,
        }).Build();
        using var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddTicketingApi().BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<PurchaseAdmissionOptions>>().Value);

        Assert.Contains("Api:Admission:MaxInFlight", error.Message);
    }

    /// <summary>The admission limiter's leases and queue, as ASP.NET Core's rate limiting reports them for one host.</summary>
    private sealed class AdmissionGauge : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _admitted;
        private long _queued;

        public AdmissionGauge(IMeterFactory hostMeters)
        {
            _listener.InstrumentPublished = (instrument, subscriber) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, hostMeters) && instrument.Name is ActiveLeases or QueuedRequests)
                {
                    subscriber.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, change, _, _) =>
                Interlocked.Add(ref instrument.Name == ActiveLeases ? ref _admitted : ref _queued, change));
            _listener.Start();
        }

        private const string ActiveLeases = "aspnetcore.rate_limiting.active_request_leases";
        private const string QueuedRequests = "aspnetcore.rate_limiting.queued_requests";

        public long Admitted => Volatile.Read(ref _admitted);

        public long Queued => Volatile.Read(ref _queued);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>A purchase (key "held" unless named) whose body is sent only when the gate opens.</summary>
    private sealed class HeldPurchase
    {
        private readonly CancellationTokenSource _cancel = new();

        private HeldPurchase(HttpClient client, Task gate, string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/crowd/orders") { Content = new HeldContent(gate) };
            request.Headers.Add("Idempotency-Key", key);
            Response = client.SendAsync(request, _cancel.Token);
        }

        public Task<HttpResponseMessage> Response { get; }

        public static HeldPurchase Send(HttpClient client, Task gate, string key = "held") => new(client, gate, key);

        public async Task AbandonAsync()
        {
            await _cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Response);
        }
    }

    /// <summary>Sends the first byte of the body at once and the rest when the gate opens.</summary>
    private sealed class HeldContent : HttpContent
    {
        private readonly byte[] _body = Encoding.UTF8.GetBytes(Body);
        private readonly Task _gate;

        public HeldContent(Task gate)
        {
            _gate = gate;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        // The client waits for a body still being sent before it gives up a request whose connection it closed: a body
        // that ignored the request's cancellation kept an abandoned purchase (AbandonAsync) waiting for the gate, which
        // opens only after the probes, so the test hung.
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(_body.AsMemory(0, 1), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await _gate.WaitAsync(cancellationToken);
            await stream.WriteAsync(_body.AsMemory(1), cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }
}
