using System.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Writes a problem for a client whose Accept header names no JSON type, the same as ASP.NET Core's own writer does
/// for every other client: with the <c>traceId</c> that ties the answer to the service's log. Registered after that
/// writer, which is asked first and refuses only such clients. Without this one, a <see cref="Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult"/>
/// wrote its problem+json itself, and left the trace id out: a browser's or a script's report of a failure then named
/// nothing an operator could find.
/// </summary>
internal sealed class AnyClientProblemWriter(IOptions<JsonOptions> json) : IProblemDetailsWriter
{
    /// <inheritdoc />
    public bool CanWrite(ProblemDetailsContext context) => true;

    /// <inheritdoc />
    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        // The id ASP.NET Core's writer gives: the request's activity when one is traced, else the connection's request id.
        problem.Extensions.TryAdd("traceId", Activity.Current?.Id ?? http.TraceIdentifier);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, json.Value.SerializerOptions.GetTypeInfo(problem.GetType()),
            contentType: "application/problem+json"));
    }
}
