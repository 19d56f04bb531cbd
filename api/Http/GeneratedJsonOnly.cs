using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Takes the reflection-based resolver out of the API's JSON options, so that everything the API writes is described
/// by generated code (<see cref="ApiJsonContext"/>, and ASP.NET Core's own context for problem details) or not at all.
/// </summary>
/// <remarks>
/// With reflection left at the end of the chain, the first problem with a number among its extensions (the sold-out
/// 409's <c>remaining</c>) had the serializer look for polymorphism settings on every interface the number's type
/// implements (<c>INumber&lt;long&gt;</c> and about twenty more), and the reflection resolver built metadata for each,
/// emitting and compiling accessors. That happened once per host, in the real silo's first 409, which comes in a
/// sale's last second, where the sale is slowest (docs/benchmarks.md, thirty-seventh session). A type that no
/// generated context describes now fails where it is written (a 500; inside the exception handler, an empty one)
/// instead of falling back to reflection: every answer and problem extension must be listed in <see cref="ApiJsonContext"/>,
/// and the API's tests write each of them.
/// </remarks>
public static class GeneratedJsonOnly
{
    /// <summary>Removes every reflection-based resolver from <paramref name="options"/>' resolver chain.</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        var chain = options.TypeInfoResolverChain;
        for (var i = chain.Count - 1; i >= 0; i--)
        {
            if (chain[i] is DefaultJsonTypeInfoResolver) chain.RemoveAt(i);
        }
    }
}
