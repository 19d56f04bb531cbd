using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The calls the generator makes, each turned into an outcome a buyer can act on.</summary>
/// <param name="http">The run's client.</param>
/// <param name="operatorKey">
/// Sent as a bearer token on operators' calls (the export) when the service requires a key; buyers' calls never carry it.
/// </param>
public sealed class TicketingApiClient(HttpClient http, string? operatorKey = null)
{
    /// <summary>The key the service and the scripts read from the environment (<c>Api__Operators__Key</c>), if set.</summary>
    public static string? OperatorKeyFromEnvironment() =>
        Environment.GetEnvironmentVariable("Api__Operators__Key") is { Length: > 0 } key ? key : null;

    private const string SoldOutProblemSuffix = "/sold-out";
    private const string ScatteredProblemSuffix = "/tickets-scattered";
    private static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromMilliseconds(50);

    // The service asks for whole seconds; waiting that long would idle a buyer for most of a short sale.
    private static readonly TimeSpan LongestRetryAfter = TimeSpan.FromSeconds(1);

    // The generator shares the machine with the service it measures, so every request should cost it little: the
    // orders address is resolved once (a relative one is parsed and combined with the base on every send).
    private ResolvedPath? _resolved;

    public async Task<EventInfo> GetEventAsync(string eventId, CancellationToken cancellation) =>
        await http.GetFromJsonAsync($"/api/events/{Uri.EscapeDataString(eventId)}", LoadJsonContext.Default.EventInfo, cancellation)
        ?? throw new InvalidDataException($"GET /api/events/{eventId} returned null");

    /// <summary>The event's sales report; throws when it is missing or names another event.</summary>
    public async Task<SalesSnapshot> GetSalesAsync(string eventId, CancellationToken cancellation) =>
        OfEvent(eventId, await http.GetFromJsonAsync($"/api/events/{Uri.EscapeDataString(eventId)}/sales", LoadJsonContext.Default.SalesSnapshot, cancellation)
            ?? throw new InvalidDataException($"GET /api/events/{eventId}/sales returned null"), sales => sales.EventId, "sales");

    /// <summary>One page of the event's export for the back office, after <paramref name="after"/> (null: the first).</summary>
    public async Task<ExportPage> GetExportPageAsync(string eventId, string? after, CancellationToken cancellation)
    {
        using var request = NewRequest(HttpMethod.Get, new Uri(
            $"/api/events/{Uri.EscapeDataString(eventId)}/orders?limit=1000" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)),
            UriKind.RelativeOrAbsolute));
        if (operatorKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", operatorKey);
        using var response = await http.SendAsync(request, cancellation);
        response.EnsureSuccessStatusCode();
        return OfEvent(eventId, await response.Content.ReadFromJsonAsync(LoadJsonContext.Default.ExportPage, cancellation)
            ?? throw new InvalidDataException($"GET /api/events/{eventId}/orders returned null"), page => page.EventId, "orders");
    }

    // The checks compare these reports with the buyers' answers and the offered capacities: another event's report (the
    // benchmark's sold-out warm-up copy has the same capacities) would pass them against the wrong numbers.
    private static T OfEvent<T>(string eventId, T report, Func<T, string> named, string path) =>
        named(report) == eventId ? report
            : throw new InvalidDataException($"GET /api/events/{eventId}/{path} answered for event '{named(report)}'");

    /// <summary>Sends the order once. Never throws for a failed exchange, only when <paramref name="cancellation"/> fires.</summary>
    public async Task<PostOutcome> PostOrderAsync(string path, PreparedOrder order, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        var status = 0;
        try
        {
            using var response = await http.SendAsync(CreateRequest(path, order), cancellation);
            status = (int)response.StatusCode;
            switch (response.StatusCode)
            {
                // Bodies are read whole, then parsed in one synchronous pass: parsing while the stream arrives costs
                // an asynchronous state machine per buffer, for bodies of a kilobyte or two.
                case HttpStatusCode.Created or HttpStatusCode.OK:
                    var body = await response.Content.ReadAsByteArrayAsync(cancellation);
                    return ReadOrder(status, body, Stopwatch.GetElapsedTime(started));
                case HttpStatusCode.Conflict:
                    return ReadConflict(status, await response.Content.ReadAsByteArrayAsync(cancellation), Stopwatch.GetElapsedTime(started));
                case HttpStatusCode.ServiceUnavailable:
                    await response.Content.LoadIntoBufferAsync(cancellation);
                    return new PostOutcome(PostResult.Unavailable, status,
                        RetryAfter: RetryDelay(response.Headers.RetryAfter), Latency: Stopwatch.GetElapsedTime(started));
                default:
                    await response.Content.LoadIntoBufferAsync(cancellation);
                    return new PostOutcome(PostResult.Failed, status, Latency: Stopwatch.GetElapsedTime(started));
            }
        }
        catch (JsonException)
        {
            // An answer whose body cannot be read leaves the outcome unknown; a retry with the key resolves it.
            return new PostOutcome(PostResult.Failed, status, Latency: Stopwatch.GetElapsedTime(started));
        }
        catch (Exception exception) when (!cancellation.IsCancellationRequested
            && exception is HttpRequestException or TaskCanceledException or IOException)
        {
            return new PostOutcome(PostResult.Failed, StatusCode: 0, Latency: Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Reads a 200 or 201 answer's <paramref name="body"/>: the order. Throws <see cref="JsonException"/> for a body that is not one.</summary>
    public static PostOutcome ReadOrder(int status, byte[] body, TimeSpan latency)
    {
        var acknowledged = JsonSerializer.Deserialize(body, LoadJsonContext.Default.AcknowledgedOrder);
        return new PostOutcome(acknowledged is null ? PostResult.Failed : PostResult.Acknowledged, status,
            Order: acknowledged, Latency: latency, Body: body);
    }

    /// <summary>
    /// Reads a 409 answer's <paramref name="body"/>: sold out, with the problem's <c>remaining</c>; or tickets scattered
    /// (every shard of the type drained, none holding the order), taken as sold out for this quantity with its
    /// <c>largestOrder</c> as what remains for one order, so the buyer asks for that many; any other conflict, failed.
    /// </summary>
    /// <remarks>
    /// Both are definite refusals: nothing was made for the key. Read as failed, a scattered answer was retried with
    /// the same key until the buyer gave up on it (counted as errors, and as an abandoned request the run could never
    /// settle), and the buyer never asked for the fewer tickets that could still sell.
    /// </remarks>
    public static PostOutcome ReadConflict(int status, byte[] body, TimeSpan latency)
    {
        var problem = JsonSerializer.Deserialize(body, LoadJsonContext.Default.SoldOutProblem);
        var left = problem?.Type switch
        {
            { } type when type.EndsWith(SoldOutProblemSuffix, StringComparison.Ordinal) => problem.Remaining,
            { } type when type.EndsWith(ScatteredProblemSuffix, StringComparison.Ordinal) => problem.LargestOrder,
            _ => null,
        };
        return new PostOutcome(left is null ? PostResult.Failed : PostResult.SoldOut, status, Remaining: left ?? 0, Latency: latency);
    }

    /// <summary>GETs <paramref name="path"/> and reads the answer without interpreting it; 0 when there was no answer.</summary>
    public async Task<int> GetForStatusAsync(string path, CancellationToken cancellation)
    {
        try
        {
            using var response = await http.GetAsync(path, cancellation);
            await response.Content.LoadIntoBufferAsync(cancellation);
            return (int)response.StatusCode;
        }
        catch (Exception exception) when (!cancellation.IsCancellationRequested
            && exception is HttpRequestException or TaskCanceledException or IOException)
        {
            return 0;
        }
    }

    /// <summary>Sends the order and reads the answer without interpreting it: bare mode measures HTTP only.</summary>
    public async Task<(int StatusCode, TimeSpan Latency)> PostForStatusAsync(string path, PreparedOrder order, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.SendAsync(CreateRequest(path, order), cancellation);
            await response.Content.LoadIntoBufferAsync(cancellation);
            return ((int)response.StatusCode, Stopwatch.GetElapsedTime(started));
        }
        catch (Exception exception) when (!cancellation.IsCancellationRequested
            && exception is HttpRequestException or TaskCanceledException or IOException)
        {
            return (0, Stopwatch.GetElapsedTime(started));
        }
    }

    private HttpRequestMessage CreateRequest(string path, PreparedOrder order)
    {
        var content = new ByteArrayContent(order.Body);
        // A constant header needs no parsed value object per request.
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var request = NewRequest(HttpMethod.Post, UriFor(path));
        request.Content = content;
        request.Headers.TryAddWithoutValidation("Idempotency-Key", order.IdempotencyKey);
        return request;
    }

    /// <summary>
    /// A request in the client's protocol: one built here is HTTP/1.1 whatever the client's default, which an HTTP/2-only
    /// endpoint refuses (<see cref="PooledHttpClient.Create"/>).
    /// </summary>
    private HttpRequestMessage NewRequest(HttpMethod method, Uri uri) =>
        new(method, uri) { Version = http.DefaultRequestVersion, VersionPolicy = http.DefaultVersionPolicy };

    private Uri UriFor(string path)
    {
        // Buyers share this client, each swapping in a whole record, so a reader sees one path and its address.
        var resolved = _resolved;
        if (resolved is null || resolved.Path != path) _resolved = resolved = new ResolvedPath(path, new Uri(http.BaseAddress!, path));
        return resolved.Uri;
    }

    private sealed record ResolvedPath(string Path, Uri Uri);

    private static TimeSpan RetryDelay(RetryConditionHeaderValue? retryAfter)
    {
        var delay = retryAfter?.Delta ?? (retryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : DefaultRetryAfter);
        return delay <= TimeSpan.Zero ? DefaultRetryAfter : delay > LongestRetryAfter ? LongestRetryAfter : delay;
    }
}
