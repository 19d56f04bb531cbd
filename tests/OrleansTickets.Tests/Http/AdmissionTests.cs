using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
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
        var held = SendHeldAsync(gate.Task);
        var sold = 0;
        HttpResponseMessage? refused = null;
        string? refusedKey = null;
        for (var probe = 0; probe < 50 && refused is null; probe++)
        {
            if (held.IsCompleted)
            {
                // A probe held the slot when the held purchase arrived: that one was refused instead. Send it again.
                await ApiContractTests.AssertProblemAsync(await held, HttpStatusCode.ServiceUnavailable, "overloaded");
                held = SendHeldAsync(gate.Task);
            }
            await Task.Delay(50);
            var key = $"probe-{probe}";
            var response = await _host.Client.OrderAsync("crowd", 1, key);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                sold++;
                continue;
            }
            (refused, refusedKey) = (response, key);
        }

        Assert.NotNull(refused);
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.ServiceUnavailable, "overloaded");
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());

        gate.SetResult();
        Assert.Equal(HttpStatusCode.Created, (await held).StatusCode);
        // Had the refused purchase reached a shard, its key would now replay (200). It was never seen: 201, a new order.
        Assert.Equal(HttpStatusCode.Created, (await _host.Client.OrderAsync("crowd", 1, refusedKey)).StatusCode);
        Assert.Equal(sold + 2, await _host.Client.SoldAsync("crowd"));
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

    private Task<HttpResponseMessage> SendHeldAsync(Task gate)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/events/crowd/orders") { Content = new HeldContent(gate) };
        request.Headers.Add("Idempotency-Key", "held");
        return _host.Client.SendAsync(request);
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

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_body.AsMemory(0, 1));
            await stream.FlushAsync();
            await _gate;
            await stream.WriteAsync(_body.AsMemory(1));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }
}
