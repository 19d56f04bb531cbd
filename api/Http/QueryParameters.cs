namespace OrleansTickets.Api.Http;

/// <summary>Query parameters on the endpoints that change something, which take all their options in the body.</summary>
public static class QueryParameters
{
    // Named one by one up to this many; a request with more is refused just the same.
    private const int MaxNamed = 10;

    /// <summary>
    /// Adds an error to <paramref name="errors"/> for each query parameter <paramref name="request"/> carries. A parameter
    /// passed over would do what the request did not ask for: <c>…/drain?dryRun=true</c> drained the shard for good, and
    /// <c>…/capacity?shard=3</c> put the tickets on whichever shard came next, as a misspelt body field once did.
    /// </summary>
    public static void RefuseAny(HttpRequest request, Dictionary<string, string[]> errors)
    {
        // The common case (no query at all) costs one look at the request line's parsed parts.
        if (!request.QueryString.HasValue) return;
        var named = 0;
        foreach (var (name, _) in request.Query)
        {
            if (++named > MaxNamed) break;
            // Under "query." so that a parameter named like a body field does not take that field's error's place, and
            // repeated only when it looks like a name: a query may carry line breaks or bidirectional overrides.
            errors[IsPlainName(name) ? "query." + name : "query"] = ["Unknown parameter: this endpoint takes none; its options go in the body."];
        }
    }

    /// <summary>Whether a query parameter's name may be repeated in a refusal: 1 to 64 ASCII letters, digits, '_', '-' or '.'.</summary>
    public static bool IsPlainName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');
}
