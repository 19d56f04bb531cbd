using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansTickets.Tests.Http;

/// <summary>Small conveniences for speaking to the API in tests.</summary>
public static class ApiClientExtensions
{
    public static Task<HttpResponseMessage> CreateEventAsync(this HttpClient client, string id, int capacity = 100, int shards = 2, int maxPerOrder = 10) =>
        client.PostAsJsonAsync("/api/events", new
        {
            id,
            name = "Festival " + id,
            ticketTypes = new[] { new { id = "ga", name = "General admission", price = 49.5m, currency = "EUR", capacity, shards, maxPerOrder } },
        });

    public static Task<HttpResponseMessage> OrderAsync(this HttpClient client, string eventId, int quantity, string? key = null,
        string ticketTypeId = "ga", string name = "Ada Lovelace", string email = "ada@example.com")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/events/{eventId}/orders")
        {
            Content = JsonContent.Create(new { ticketTypeId, quantity, buyer = new { name, email } }),
        };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        return client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> PostRawAsync(this HttpClient client, string path, string body, string contentType = "application/json",
        string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        if (key is not null) request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return client.SendAsync(request);
    }

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    /// <summary>
    /// The tickets the event has sold, from <c>/sales</c>. A 503 is asked again for up to 20 s: the read asks every
    /// shard, and within 5 s, and on a busy machine the first read of an event whose shards were never loaded (each
    /// opening its database) can take longer, which the service answers with 503 and Retry-After, as it should.
    /// </summary>
    public static async Task<long> SoldAsync(this HttpClient client, string eventId)
    {
        var patience = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var response = await client.GetAsync($"/api/events/{eventId}/sales");
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && patience.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                continue;
            }
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"/sales answered {(int)response.StatusCode}: {body}");
            return JsonDocument.Parse(body).RootElement.GetProperty("ticketTypes").EnumerateArray().Sum(t => t.GetProperty("sold").GetInt64());
        }
    }
}
