using System.Net;
using System.Text.Json;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>The service process is killed and started again on the same data: every acknowledged order is still there.</summary>
public sealed class RestartTests : IDisposable
{
    private readonly TestStorage _storage = TestStorage.Sqlite();

    public void Dispose() => _storage.Dispose();

    [Fact]
    public async Task Orders_survive_a_kill_and_restart_and_no_serial_is_reused()
    {
        var acknowledged = new Dictionary<string, JsonElement>();
        await using (var first = await SiloProcess.StartAsync(_storage))
        {
            Assert.Equal(HttpStatusCode.Created, (await first.Client.CreateEventAsync("restart", capacity: 300, shards: 3)).StatusCode);
            var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => first.Client.OrderAsync("restart", 2, key: $"before-{i}")));
            foreach (var (response, i) in responses.Select((r, i) => (r, i)))
            {
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                acknowledged[$"before-{i}"] = await response.JsonAsync();
            }
            await first.KillAsync();
        }

        await using var second = await SiloProcess.StartAsync(_storage);
        foreach (var (key, order) in acknowledged)
        {
            var read = await second.Client.GetAsync($"/api/orders/{order.GetProperty("orderId").GetString()}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            Assert.Equal(order.GetRawText(), (await read.JsonAsync()).GetRawText());

            var replay = await second.Client.OrderAsync("restart", 2, key: key);
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            Assert.Equal(order.GetRawText(), (await replay.JsonAsync()).GetRawText());
        }

        var more = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => second.Client.OrderAsync("restart", 2, key: $"after-{i}")));
        Assert.All(more, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var all = acknowledged.Values.Concat(await Task.WhenAll(more.Select(r => r.JsonAsync()))).ToList();
        var serials = all.SelectMany(o => o.GetProperty("tickets").EnumerateArray().Select(t => t.GetProperty("serial").GetInt64())).ToList();
        Assert.Equal(180, serials.Count);
        Assert.Equal(serials.Count, serials.Distinct().Count());
        Assert.Equal(180, await second.Client.SoldAsync("restart"));
    }
}
