using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansTickets.Api;
using OrleansTickets.Api.Http;
using OrleansTickets.Api.Orders;
using OrleansTickets.Inventory;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// Each client's order pages are counted (Api:OrderPages): past its allowance a client gets 429 with Retry-After before
/// any shard database is read, while other clients' pages and every client's purchases go on.
/// </summary>
public sealed class OrderPageLimitTests
{
    [Fact]
    public async Task A_client_past_its_allowance_gets_429_while_another_client_and_its_own_purchases_are_served()
    {
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:OrderPages:PerClientPerSecond"] = "1",
            ["Api:OrderPages:PerClientBurst"] = "3",
        });
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("paged", capacity: 20, shards: 1)).StatusCode);
        var bought = await host.Client.OrderAsync("paged", 1, key: "paged-1");
        Assert.Equal(HttpStatusCode.Created, bought.StatusCode);
        var page = bought.Headers.Location!.OriginalString;
        // Well-formed ids of the same shard that name no order: the made-up ids the limit is for. Each costs a read.
        var madeUp = page[..^22] + new string('A', 22);

        // One token a second comes back, so a slow machine may see a fourth or fifth page answered before the refusal.
        HttpResponseMessage? refused = null;
        var served = 0;
        for (var attempt = 0; attempt < 30 && refused is null; attempt++)
        {
            var response = await host.Client.GetAsync(madeUp);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused = response;
            else
            {
                await ApiContractTests.AssertProblemAsync(response, HttpStatusCode.NotFound, "order-not-found");
                served++;
            }
        }
        Assert.NotNull(refused);
        Assert.True(served >= 3, $"only {served} pages were answered before the first refusal; the burst is 3");
        await ApiContractTests.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests, "too-many-requests");
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);

        // Another address on this machine is another client.
        using var neighbour = new HttpClient(FromAddress(IPAddress.Parse("127.0.0.2"))) { BaseAddress = host.Client.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await neighbour.GetAsync(page)).StatusCode);
        // Purchases are not counted against the client.
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("paged", 1, key: "paged-2")).StatusCode);

        // The bucket refills: the same client is served again after its Retry-After.
        await Task.Delay(refused.Headers.RetryAfter!.Delta!.Value);
        // Tokens are handed out on a timer that ticks every 100 ms, so the first try may come a tick early.
        await Poll.UntilAsync(async () => (await host.Client.GetAsync(page)).StatusCode == HttpStatusCode.OK, attempts: 10, delayMilliseconds: 200,
            failure: "The client was not served again after its Retry-After.");
    }

    [Fact]
    public async Task A_client_with_its_pages_in_flight_gets_429_at_once_while_another_client_is_answered()
    {
        using var storage = TestStorage.Sqlite();
        var held = new HeldOrderPages();
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:OrderPages:PerClientPerSecond"] = "1000",
            ["Api:OrderPages:PerClientBurst"] = "1000",
            ["Api:OrderPages:PerClientInFlight"] = "1",
        }, services => services.AddSingleton<IIncomingGrainCallFilter>(held));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("inflight", capacity: 20, shards: 1)).StatusCode);
        var page = (await host.Client.OrderAsync("inflight", 1, key: "inflight-1")).Headers.Location!.OriginalString;

        using var neighbour = new HttpClient(FromAddress(IPAddress.Parse("127.0.0.2"))) { BaseAddress = host.Client.BaseAddress };
        held.Hold();
        Task<HttpResponseMessage> first, neighbours;
        // Released whatever happens, so that a failure does not leave the host waiting on held calls when it stops.
        try
        {
            first = host.Client.GetAsync(page);
            await held.UntilEnteredAsync(1);
            // The client's one place is taken: refused at once, not queued behind the page it waits for.
            using (var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                await ApiContractTests.AssertProblemAsync(await host.Client.GetAsync(page, patience.Token), HttpStatusCode.TooManyRequests, "too-many-requests");
            }
            neighbours = neighbour.GetAsync(page);
            await held.UntilEnteredAsync(2);
        }
        finally
        {
            held.Release();
        }
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await neighbours).StatusCode);
        // The answered page gave its place back.
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(page)).StatusCode);
    }

    [Fact]
    public async Task A_rate_of_zero_turns_the_limit_off()
    {
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage, new Dictionary<string, string?>
        {
            ["Api:OrderPages:PerClientPerSecond"] = "0",
            ["Api:OrderPages:PerClientBurst"] = "0",
        });
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("unpaged", capacity: 20, shards: 1)).StatusCode);
        var page = (await host.Client.OrderAsync("unpaged", 1, key: "unpaged-1")).Headers.Location!.OriginalString;

        for (var i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync(page)).StatusCode);
    }

    [Theory]
    [InlineData("-1", "10")]
    [InlineData("10", "5")]
    [InlineData("10", "0")]
    [InlineData("2000000", "2000000")]
    [InlineData("10", "2000000")]
    [InlineData("10", "10", "0")]
    [InlineData("10", "10", "2000000")]
    public void Rates_below_zero_bursts_below_the_rate_no_pages_in_flight_and_settings_past_a_million_are_refused(
        string perSecond, string burst, string inFlight = "4")
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Api:OrderPages:PerClientPerSecond"] = perSecond,
            ["Api:OrderPages:PerClientBurst"] = burst,
            ["Api:OrderPages:PerClientInFlight"] = inFlight,
        }).Build();
        using var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddTicketingApi().BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<OrderPageLimitOptions>>().Value);

        Assert.Contains("Api:OrderPages:PerClientPerSecond", error.Message);
    }

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    public void A_client_is_its_IPv4_address_or_its_IPv6_64(string address, string client) =>
        Assert.Equal(client, ClientNetwork.Of(IPAddress.Parse(address)));

    /// <summary>Holds shards' order lookups (<c>GetOrder</c>) while <see cref="Hold"/> is on, counting those that arrived.</summary>
    private sealed class HeldOrderPages : IIncomingGrainCallFilter
    {
        private TaskCompletionSource? _release;
        private int _entered;

        public void Hold() => _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release?.TrySetResult();

        public Task UntilEnteredAsync(int count) => Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref _entered) >= count),
            failure: $"{count} order lookups never reached the shard (last seen: {Volatile.Read(ref _entered)}).");

        public async Task Invoke(IIncomingGrainCallContext call)
        {
            if (call.ImplementationMethod.Name == nameof(IInventoryShardGrain.GetOrder) && _release is { } release)
            {
                Interlocked.Increment(ref _entered);
                await release.Task;
            }
            await call.Invoke();
        }
    }

    /// <summary>A handler whose connections leave from <paramref name="source"/>, another client to the server.</summary>
    private static SocketsHttpHandler FromAddress(IPAddress source) => new()
    {
        ConnectCallback = (context, cancellation) => ClientSockets.ConnectAsync(context, cancellation, source),
    };
}
