using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Reads a JSON request body by hand instead of through parameter binding, so that every way a body can be
/// wrong (too large, not JSON, wrong types, null) becomes a precise 4xx problem and never a 5xx.
/// </summary>
public static class JsonBody
{
    // A Content-Encoding is the client's own text, up to a header's limit: named back only when it is short.
    private const int MaxEncodingNamed = 64;

    /// <summary>
    /// As <see cref="ReadAsync"/>, but a body still arriving when the server begins to stop is given up, and the
    /// answer is 503 "stopping" with <paramref name="stoppingDetail"/>. A stopping server waits for the requests it has,
    /// within one budget shared with the silo's graceful leave, and Kestrel lets a body trickle at 240 bytes a second:
    /// a 1 MB one would hold the stop for over an hour.
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadUnlessStoppingAsync<T>(
        HttpContext context, JsonTypeInfo<T> typeInfo, int maxBytes, IHostApplicationLifetime lifetime, string stoppingDetail) where T : class
    {
        try
        {
            return await ReadAsync(context.Request, typeInfo, maxBytes, lifetime.ApplicationStopping);
        }
        catch (OperationCanceledException) when (StoppedWhileArriving(context, lifetime))
        {
            return (null, Problems.Stopping(context, stoppingDetail));
        }
    }

    /// <summary>
    /// As <see cref="ReadUnlessStoppingAsync"/>, for an endpoint whose body may be left out: no body at all gives
    /// neither a value nor a problem. A declared body that is still to come when the server begins to stop is given up
    /// the same way, whether it is being read or only looked at for being empty.
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadOptionalUnlessStoppingAsync<T>(
        HttpContext context, JsonTypeInfo<T> typeInfo, int maxBytes, IHostApplicationLifetime lifetime, string stoppingDetail) where T : class
    {
        try
        {
            if (await IsEmptyAsync(context.Request, lifetime.ApplicationStopping)) return (null, null);
            return await ReadAsync(context.Request, typeInfo, maxBytes, lifetime.ApplicationStopping);
        }
        catch (OperationCanceledException) when (StoppedWhileArriving(context, lifetime))
        {
            return (null, Problems.Stopping(context, stoppingDetail));
        }
    }

    // The read was given up because the server began to stop, not because the client went away (no one to answer then).
    private static bool StoppedWhileArriving(HttpContext context, IHostApplicationLifetime lifetime) =>
        lifetime.ApplicationStopping.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested;

    /// <summary>
    /// Reads and deserializes at most <paramref name="maxBytes"/> bytes. Exactly one of the results is non-null. Throws
    /// <see cref="OperationCanceledException"/> when <paramref name="giveUp"/> fires while the body is still arriving.
    /// </summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(
        HttpRequest request, JsonTypeInfo<T> typeInfo, int maxBytes, CancellationToken giveUp = default) where T : class
    {
        // Content-Type names one media type, so two headers are a malformed request, not a media type the API refuses
        // (ASP.NET joins them with a comma, which then reads as no JSON type at all).
        if (request.Headers.ContentType.Count > 1)
        {
            return (null, Problems.Create(StatusCodes.Status400BadRequest, Problems.MalformedRequest,
                "The request has more than one Content-Type.", "Send one Content-Type header: application/json."));
        }
        if (!request.HasJsonContentType() || !IsUtf8(request.ContentType))
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, Problems.UnsupportedMediaType,
                "The body must be JSON in UTF-8.", "Send Content-Type: application/json, with no charset or charset=utf-8."));
        }
        // No decompression is set up, so a compressed body would be read as its raw bytes and called "not JSON".
        if (request.Headers.ContentEncoding is { Count: > 0 } encoding && !IsIdentity(encoding))
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, Problems.UnsupportedMediaType,
                "The body must not be compressed.", encoding.ToString().Length <= MaxEncodingNamed
                    ? $"Send it without Content-Encoding (this one was '{encoding}')."
                    : "Send it without Content-Encoding."));
        }
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));

        // One read buffer per request, pooled: the deserialized value copies what it keeps.
        var size = Math.Min(maxBytes + 1, (int)(request.ContentLength ?? maxBytes + 1));
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        var isObject = true;
        var length = 0;
        using var either = giveUp.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(request.HttpContext.RequestAborted, giveUp) : null;
        var token = either?.Token ?? request.HttpContext.RequestAborted;
        try
        {
            while (length < size)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(length, size - length), token);
                if (read == 0) break;
                length += read;
            }
            if (length > maxBytes) return (null, TooLarge(maxBytes));

            // A UTF-8 byte order mark is allowed before JSON text (RFC 8259 §8.1 lets a parser ignore it); the serializer
            // reading a span does not skip it, as ASP.NET's own body reader would.
            var body = buffer.AsSpan(0, length);
            if (body.StartsWith(Utf8ByteOrderMark)) body = body[Utf8ByteOrderMark.Length..];
            var content = body.TrimStart(JsonWhitespace);
            if (content.IsEmpty)
            {
                // "Could not read '$' (line 1, byte 1)" would not say that nothing was sent.
                return (null, Problems.Create(StatusCodes.Status400BadRequest, Problems.MalformedRequest,
                    "The body must be a JSON object.", "The body is empty: send a JSON object."));
            }
            isObject = content.StartsWith("{"u8);
            var value = JsonSerializer.Deserialize(body, typeInfo);
            return value is null
                ? (null, Problems.Create(StatusCodes.Status400BadRequest, Problems.MalformedRequest, "The body must be a JSON object."))
                : (value, null);
        }
        catch (BadHttpRequestException exception)
        {
            // Kestrel could not read the body itself: the client's fault, not ours. A body slower than Kestrel's minimum
            // data rate (408) or longer than its limit (413) says so in its type, so the client knows what to change.
            return (null, exception.StatusCode switch
            {
                StatusCodes.Status408RequestTimeout => Problems.Create(exception.StatusCode, Problems.RequestTimeout,
                    "The request body arrived too slowly.", exception.Message),
                StatusCodes.Status413PayloadTooLarge => TooLarge(maxBytes),
                _ => Problems.Create(exception.StatusCode, Problems.MalformedRequest, "The request body could not be read.", exception.Message),
            });
        }
        catch (JsonException exception)
        {
            var path = string.IsNullOrEmpty(exception.Path) ? "$" : exception.Path;
            var field = path == "$" ? "$" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path[1..];
            var where = $"(line {exception.LineNumber + 1}, byte {exception.BytePositionInLine + 1})";
            // A name the client made up is repeated only when it shows as what it is and is short: a body can carry a
            // name of kilobytes, with line breaks or direction overrides, which the refusal would carry back twice.
            var shown = IsPlainField(field);
            if (!shown) field = "$";
            var detail = exception is BodyRuleException rule ? $"'{field}': {rule.Reason}"
                : isObject && IsUnknownField(typeInfo, path) ? shown ? UnknownFieldDetail(field) : "The body has a field it does not take (its name is not repeated here)."
                : isObject && IsGivenTwice(buffer.AsSpan(0, Math.Min(length, maxBytes)), path, exception)
                    ? shown ? $"'{field}' is given more than once (names match without regard to case)." : "A field is given more than once (names match without regard to case)."
                : shown ? $"Could not read '{field}' {where}." : $"Could not read the body {where}.";
            return (null, Problems.Create(StatusCodes.Status400BadRequest, Problems.MalformedRequest,
                isObject ? "The body is not valid JSON for this request." : "The body must be a JSON object.",
                detail, new Dictionary<string, object?> { ["field"] = field }));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Whether the request carries no body at all: none declared (no Content-Length, or 0, and not chunked), or a chunked
    /// one that ends before its first byte. It looks at the first bytes without taking them, so <see cref="ReadAsync"/>
    /// after it reads the whole body. Throws <see cref="OperationCanceledException"/> when <paramref name="giveUp"/> fires
    /// before the first byte arrives.
    /// </summary>
    private static async Task<bool> IsEmptyAsync(HttpRequest request, CancellationToken giveUp)
    {
        if (request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }) return true;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(request.HttpContext.RequestAborted, giveUp);
        try
        {
            var peek = await request.BodyReader.ReadAsync(either.Token);
            request.BodyReader.AdvanceTo(peek.Buffer.Start);
            return peek.Buffer.IsEmpty && peek.IsCompleted;
        }
        catch (BadHttpRequestException)
        {
            // The body could not be read (too slow, say): not empty, and ReadAsync says why in its own problem.
            return false;
        }
    }

    /// <summary>
    /// JSON is read as UTF-8 (RFC 8259); a body declared in another charset would only fail to parse, or parse into
    /// other text than the client meant, so it is refused as a media type this API does not take.
    /// </summary>
    private static bool IsUtf8(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var parsed) || !parsed.Charset.HasValue) return true;
        var charset = HeaderUtilities.RemoveQuotes(parsed.Charset);
        return charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }

    // An empty element of the list is no coding at all (a recipient ignores empty list elements: RFC 9110, 5.6.1).
    private static bool IsIdentity(Microsoft.Extensions.Primitives.StringValues encoding) =>
        encoding.All(value => value is not null
            && value.Split(',', StringSplitOptions.TrimEntries).All(part => part is "" || part.Equals("identity", StringComparison.OrdinalIgnoreCase)));

    /// <summary>
    /// Whether the last property named in <paramref name="path"/> (the serializer's JSON path: <c>$.buyer.phone</c>,
    /// <c>$.ticketTypes[0].note</c>, <c>$['odd name']</c>) is no property of the object it appears in: the serializer
    /// refuses such a field, but says so only in its message.
    /// </summary>
    private static bool IsUnknownField(JsonTypeInfo root, string path)
    {
        var segments = PathSegments(path);
        if (segments is null || segments.Count == 0 || segments[^1] is null) return false;
        var current = root;
        for (var i = 0; i < segments.Count; i++)
        {
            if (Nullable.GetUnderlyingType(current.Type) is { } underlying) current = current.Options.GetTypeInfo(underlying);
            if (segments[i] is not { } name)
            {
                // An element of the array named before: its elements' type.
                if (current.ElementType is not { } element) return false;
                current = current.Options.GetTypeInfo(element);
                continue;
            }
            if (current.Kind != JsonTypeInfoKind.Object) return false;
            var property = current.Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (property is null) return i == segments.Count - 1;
            current = current.Options.GetTypeInfo(property.PropertyType);
        }
        return false;
    }

    /// <summary>The names in a JSON path, with null for each array index; null when the path is not one the serializer writes.</summary>
    private static List<string?>? PathSegments(string path)
    {
        if (!path.StartsWith('$')) return null;
        var segments = new List<string?>();
        var at = 1;
        while (at < path.Length)
        {
            if (path[at] == '.')
            {
                var end = path.IndexOfAny(['.', '['], at + 1);
                if (end < 0) end = path.Length;
                segments.Add(path[(at + 1)..end]);
                at = end;
            }
            else if (path.AsSpan(at).StartsWith("['"))
            {
                var end = path.IndexOf("']", at + 2, StringComparison.Ordinal);
                if (end < 0) return null;
                segments.Add(path[(at + 2)..end]);
                at = end + 2;
            }
            else if (path[at] == '[')
            {
                var end = path.IndexOf(']', at + 1);
                if (end < 0) return null;
                segments.Add(null);
                at = end + 1;
            }
            else
            {
                return null;
            }
        }
        return segments;
    }

    /// <summary>
    /// Whether the field at <paramref name="path"/> is named a second time in one object of <paramref name="json"/> no
    /// later than where the serializer stopped (<paramref name="failure"/>): it refuses a second value for a field
    /// (ApiJsonContext), and, as for an unknown field, says why only in its message. Read here from the body itself,
    /// which is read again only on this way out. A repeat after the place of the failure is not what stopped it.
    /// </summary>
    private static bool IsGivenTwice(ReadOnlySpan<byte> json, string path, JsonException failure)
    {
        if (PathSegments(path) is not { Count: > 0 } wanted || wanted[^1] is null) return false;
        if (json.StartsWith(Utf8ByteOrderMark)) json = json[Utf8ByteOrderMark.Length..];
        // The names met so far in each object open around the reader, and the segment each container adds to the path
        // of what is inside it: the name of the value being read for an object, null for an array.
        var seen = new List<HashSet<string>?>();
        var at = new List<string?>();
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        seen.Add(new HashSet<string>(StringComparer.OrdinalIgnoreCase));
                        at.Add(null);
                        break;
                    case JsonTokenType.StartArray:
                        seen.Add(null);
                        at.Add(null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        seen.RemoveAt(seen.Count - 1);
                        at.RemoveAt(at.Count - 1);
                        break;
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        at[^1] = name;
                        if (!seen[^1]!.Add(name) && SamePath(at, wanted)) return NoLaterThan(json, (int)reader.TokenStartIndex, failure);
                        break;
                }
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // The body breaks off or goes wrong (a name that is not text) past the fields read: no second value was met
            // before that.
        }
        return false;
    }

    /// <summary>Whether byte <paramref name="offset"/> of <paramref name="json"/> is at or before the place <paramref name="failure"/> names.</summary>
    private static bool NoLaterThan(ReadOnlySpan<byte> json, int offset, JsonException failure)
    {
        if (failure.LineNumber is not { } line || failure.BytePositionInLine is not { } column) return true;
        var before = json[..offset];
        var lines = before.Count((byte)'\n');
        var inLine = offset - (before.LastIndexOf((byte)'\n') + 1);
        return lines < line || (lines == line && inLine <= column);
    }

    /// <summary>Whether the path that <paramref name="at"/> spells (a segment per open container) is <paramref name="wanted"/>.</summary>
    private static bool SamePath(List<string?> at, List<string?> wanted)
    {
        if (at.Count != wanted.Count) return false;
        for (var i = 0; i < wanted.Count; i++)
        {
            if (!string.Equals(at[i], wanted[i], StringComparison.OrdinalIgnoreCase)) return false;
        }
        return true;
    }

    // Our bodies' longest path is a few dozen characters.
    private const int MaxShownFieldLength = 128;

    private static bool IsPlainField(string field) => field.Length <= MaxShownFieldLength && DisplayText.IsValid(field, MaxShownFieldLength);

    private static string UnknownFieldDetail(string field) =>
        field.EndsWith("idempotencyKey", StringComparison.OrdinalIgnoreCase)
            ? $"'{field}' is not a field of this body: an idempotency key goes in the Idempotency-Key header."
            : $"'{field}' is not a field of this body.";

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    private static ReadOnlySpan<byte> JsonWhitespace => " \t\r\n"u8;

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, Problems.PayloadTooLarge,
            "The body is too large.", $"At most {maxBytes} bytes are accepted.");
}
