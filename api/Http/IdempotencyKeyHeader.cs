namespace OrleansTickets.Api.Http;

/// <summary>
/// The <c>Idempotency-Key</c> request header, for every endpoint a client may retry after an unclear answer: the
/// same key with the same body returns the first outcome instead of acting twice.
/// </summary>
public static class IdempotencyKeyHeader
{
    public const string Name = "Idempotency-Key";
    public const int MaxLength = 100;

    /// <summary>The key, or null when the request has none or an invalid one (then <paramref name="errors"/> says why).</summary>
    public static string? Read(HttpRequest request, Dictionary<string, string[]> errors)
    {
        var values = request.Headers[Name];
        if (values.Count == 0) return null;
        if (values.Count > 1)
        {
            errors[Name] = ["Send the header at most once."];
            return null;
        }
        var key = FieldValue.Trim(values[0]!);
        if (key.Length is >= 1 and <= MaxLength && key.All(c => c is >= ' ' and <= '~')) return key;
        errors[Name] = [$"1 to {MaxLength} printable ASCII characters."];
        return null;
    }
}
