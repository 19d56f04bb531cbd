using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Api.Orders;
using OrleansTickets.Diagnostics;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>Past the admission limit a purchase is refused at once, with Retry-After, before it can change anything.</summary>
public sealed class AdmissionTests : IAsyncLifetime
{
    private const string Body = """{"ticketTypeId":"ga","quantity":1,"buyer":{"name":"Ada Lovelace","email":"ada@example.com"}}""";

    private readonly TestStorage _storage = TestStorage.Sqlite(maxShardDatabases: 1);
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
        using var admission = new AdmissionGauges(_host);
        var (writes, held) = await HoldAPurchaseInFlightAsync(_host, admission);
        HttpResponseMessage refused;
        await using (writes)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/crowd/orders") { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Idempotency-Key", "refused");
            // A refusal is JSON problem details even for a client that prefers HTML.
            request.Headers.Accept.ParseAdd("text/html");
            refused = await _host.Client.SendAsync(request);
        }

        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Equal(1, admission.Refused);
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
        // Had the refused purchase reached a shard, its key would now replay (200). It was never seen: 201, a new order.
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.OrderAsync("crowd", 1, "refused")).StatusCode);
        Assert.Equal(3, await _host.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task A_meter_listener_that_throws_on_the_refusal_count_leaves_the_refusal_a_503()
    {
        // A broken exporter on this host's refusal counter: the refused buyer must still hear 503 overloaded, which says
        // "back off and come again", not 500.
        var meters = _host.Services.GetRequiredService<IMeterFactory>();
        using var listener = new BrokenMeterListener(instrument =>
            ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == "orleanstickets.admission.refused");
        using var admission = new AdmissionGauges(_host);
        var (writes, held) = await HoldAPurchaseInFlightAsync(_host, admission);
        HttpResponseMessage refused;
        await using (writes)
        {
            refused = await _host.Client.OrderAsync("crowd", 1, "refused-metered");
        }

        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.True(listener.Thrown > 0, "the broken listener was never called on the refusal");
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
    }

    [Fact]
    public async Task A_purchase_above_its_types_limit_gets_its_400_even_past_saturation()
    {
        // An order that can never sell must not be told to retry (503 "overloaded") or take a slot from real buyers.
        using var admission = new AdmissionGauges(_host);
        var (writes, held) = await HoldAPurchaseInFlightAsync(_host, admission);
        HttpResponseMessage refused;
        await using (writes)
        {
            refused = await _host.Client.OrderAsync("crowd", 11, "too-many");
        }

        var problem = await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.BadRequest, "validation");
        Assert.Equal("At most 10 tickets per order.", problem.GetProperty("errors").GetProperty("quantity")[0].GetString());
        Assert.Equal(0, admission.Refused);
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
        Assert.Equal(2, await _host.Client.SoldAsync("crowd"));
    }

    [Fact]
    public void The_admission_gauges_are_published_before_the_first_purchase()
    {
        // A dashboard watching a front end before the doors open sees its admission at zero, not nothing.
        using var admission = new AdmissionGauges(_host);

        Assert.True(admission.Read() is (0, 0), $"The gauges read {admission.Read()}.");
    }

    [Fact]
    public async Task A_purchase_whose_body_is_still_arriving_holds_no_slot()
    {
        // A slot stands for work in the cluster. Taken before the body was read, it could be held for a minute and
        // more by a client uploading at Kestrel's minimum rate, and a thousand such clients held every slot.
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
        using var requests = new MetricCollector<long>(_host.Services.GetRequiredService<IMeterFactory>(), "Microsoft.AspNetCore.Hosting", "http.server.active_requests");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = HeldPurchase.Send(_host.Client, gate.Task, "slow");
        try
        {
            await Poll.UntilAsync(() => Task.FromResult(requests.GetMeasurementSnapshot().Sum(m => m.Value) == 1),
                failure: "The slow purchase never reached the server.");

            // With the only slot free, each of these is admitted at once.
            foreach (var key in new[] { "quick-1", "quick-2", "quick-3" })
            {
                Assert.Equal(HttpStatusCode.Created, (await _host.Client.OrderAsync("crowd", 1, key)).StatusCode);
            }
        }
        finally
        {
            gate.TrySetResult();
        }

        Assert.Equal(HttpStatusCode.Created, (await slow.Response).StatusCode);
        Assert.Equal(4, await _host.Client.SoldAsync("crowd"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_purchase_still_queued_when_the_server_begins_to_stop_is_refused_and_sells_nothing(bool waitsItsLongest)
    {
        // One purchase is in flight, one queues behind it. The stop waits for requests in flight, and its budget is
        // shared with the silo's graceful leave: queued purchases served one by one would spend it, so the queued one
        // is sent elsewhere instead, and the one in flight is finished. One that waits its longest for a slot during
        // the stop is told the same: "overloaded" would have its buyer retry here, at a server about to go.
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        HttpResponseMessage inFlight, queued;
        await using (var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:Admission:MaxInFlight"] = "1",
            ["Api:Admission:MaxQueued"] = "4",
            // Either still waiting when the stop begins, however slow the machine, or out of time during it (5 s: long
            // enough for the stop to have begun on a busy machine, and the stop cannot end first, since the purchase in
            // flight is held until the queued one is answered).
            ["Api:Admission:MaxQueueWait"] = waitsItsLongest ? "00:00:05" : "00:01:00",
        }))
        {
            using var admission = new AdmissionGauges(host);
            var (writes, first) = await HoldAPurchaseInFlightAsync(host, admission);
            Task<HttpResponseMessage> second;
            await using (writes)
            {
                second = host.Client.OrderAsync("crowd", 1, "second");
                await admission.UntilAsync(inFlight: 1, queued: 1);
                host.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
                if (waitsItsLongest) await second.WaitAsync(TimeSpan.FromSeconds(20));
            }
            (inFlight, queued) = (await first, await second);
        }

        Assert.Equal(HttpStatusCode.Created, inFlight.StatusCode);
        var problem = await ApiContractTests.AssertProblemAsync(queued, HttpStatusCode.ServiceUnavailable, "unavailable");
        Assert.Contains("stopping", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        Assert.Equal("1", queued.Headers.GetValues("Retry-After").Single());
        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(2, await again.Client.SoldAsync("crowd"));
        // Had the queued purchase reached a shard, its key would now replay (200).
        Assert.Equal(HttpStatusCode.Created, (await again.Client.OrderAsync("crowd", 1, "second")).StatusCode);
    }

    [Fact]
    public async Task A_purchase_whose_body_is_still_arriving_when_the_server_stops_does_not_hold_the_stop_and_sells_nothing()
    {
        // The read gives up when the stop begins, and the purchase goes to another server like a queued one.
        using var storage = TestStorage.Sqlite();
        await StopWithABodyArriving.RunAsync(storage, gate => HeldPurchase.Request(gate, "slow-body"));

        await using var again = await ApiHost.StartAsync(storage);
        Assert.Equal(0, await again.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task A_purchase_that_waited_its_longest_for_a_slot_gets_503_overloaded_and_sells_nothing()
    {
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:Admission:MaxInFlight"] = "1",
            ["Api:Admission:MaxQueued"] = "4",
            ["Api:Admission:MaxQueueWait"] = "00:00:01",
        });
        using var admission = new AdmissionGauges(host);
        var (writes, held) = await HoldAPurchaseInFlightAsync(host, admission);
        HttpResponseMessage waited;
        await using (writes)
        {
            // Before, it waited for the slot as long as the held purchase kept it (here, past the probe's 10 s).
            waited = await host.Client.OrderAsync("crowd", 1, "waited").WaitAsync(TimeSpan.FromSeconds(10));
        }

        await ApiContractTests.AssertProblemAsync(waited, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", waited.Headers.GetValues("Retry-After").Single());
        Assert.Equal(1, admission.Refused);
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
        // It was never seen: its key makes a new order, not a replay.
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("crowd", 1, "waited")).StatusCode);
        Assert.Equal(3, await host.Client.SoldAsync("crowd"));
    }

    [Fact]
    public async Task A_bad_admission_setting_fails_the_start_with_exit_code_1_rather_than_crashing()
    {
        // As silo/Program.cs and the front end run: the API is mapped, then run. The admission, made when the API was
        // mapped, threw there, before anything could turn the bad setting into one line and exit code 1.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Api:Admission:MaxInFlight"] = "0" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddTicketingApi();
        var app = builder.Build();

        app.MapTicketingApi();

        Assert.Equal(1, await Task.Run(app.RunUntilStopped).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:05:00.001")]
    // Past what the wait's timer takes (about 49.7 days): it used to start, and then answer every queued purchase 500.
    [InlineData("60.00:00:00")]
    public void A_queue_wait_of_zero_or_of_more_than_five_minutes_is_refused(string maxQueueWait)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:Admission:MaxQueueWait"] = maxQueueWait,
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

    /// <summary>
    /// Creates the event "crowd" on a host whose storage has one shard database (<c>maxShardDatabases: 1</c>), sells it
    /// a first order so its shard is loaded, then holds that database's writes and sends a purchase (key "held") whose
    /// commit waits on them: it keeps its admission slot until the writes are let go.
    /// </summary>
    private static async Task<(HeldWrites Writes, Task<HttpResponseMessage> Held)> HoldAPurchaseInFlightAsync(ApiHost host, AdmissionGauges admission)
    {
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("crowd", capacity: 20, shards: 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("crowd", 1, "warm")).StatusCode);
        var writes = await HeldWrites.HoldAsync(host.Services.GetRequiredService<ShardDatabases>().Get(0));
        try
        {
            var held = host.Client.OrderAsync("crowd", 1, "held");
            await admission.UntilAsync(inFlight: 1, queued: 0);
            return (writes, held);
        }
        catch
        {
            await writes.DisposeAsync();
            throw;
        }
    }

    /// <summary>The admission's instruments, as a host's process reports them.</summary>
    private sealed class AdmissionGauges(ApiHost host) : IDisposable
    {
        private readonly MetricCollector<long> _inFlight = Collect(host, "orleanstickets.admission.in_flight");
        private readonly MetricCollector<long> _queued = Collect(host, "orleanstickets.admission.queued");
        private readonly MetricCollector<long> _refused = Collect(host, "orleanstickets.admission.refused");

        public long Refused => _refused.GetMeasurementSnapshot().Sum(m => m.Value);

        /// <summary>The purchases in flight and queued now; null for a gauge that is not published.</summary>
        public (long? InFlight, long? Queued) Read()
        {
            _inFlight.RecordObservableInstruments();
            _queued.RecordObservableInstruments();
            return (_inFlight.LastMeasurement?.Value, _queued.LastMeasurement?.Value);
        }

        /// <summary>Waits until the admission holds <paramref name="inFlight"/> purchases and queues <paramref name="queued"/>.</summary>
        public Task UntilAsync(long inFlight, long queued) => Poll.UntilAsync(
            () => Task.FromResult(Read() == (inFlight, queued)),
            failure: $"The admission never held {inFlight} in flight and {queued} queued (it held {Read()}).");

        public void Dispose()
        {
            _inFlight.Dispose();
            _queued.Dispose();
            _refused.Dispose();
        }

        private static MetricCollector<long> Collect(ApiHost host, string instrument) =>
            new(host.Services.GetRequiredService<IMeterFactory>(), TicketingMeter.Name, instrument);
    }

    /// <summary>A purchase (key "held" unless named) whose body is sent only when the gate opens.</summary>
    private sealed class HeldPurchase
    {
        private HeldPurchase(HttpClient client, Task gate, string key) => Response = client.SendAsync(Request(gate, key));

        public Task<HttpResponseMessage> Response { get; }

        public static HeldPurchase Send(HttpClient client, Task gate, string key = "held") => new(client, gate, key);

        public static HttpRequestMessage Request(Task gate, string key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/crowd/orders") { Content = new HeldBody(Body, gate) };
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }
    }
}
