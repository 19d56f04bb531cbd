using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace OrleansTickets.Api.Http;

/// <summary>
/// The problems for answers that no handler wrote: unknown routes and methods, and exceptions (mostly a cluster that
/// cannot answer in time). They are written as <see cref="ProblemHttpResult"/>s, which write problem+json themselves
/// when the client's Accept header names no JSON type; ASP.NET Core's own problem writer refuses such a client, and
/// the answer was then a plain-text body or an empty one, without the 503's Retry-After.
/// </summary>
internal static class FallbackProblems
{
    // Longer than any method in IANA's registry (the longest, UPDATEREDIRECTREF, has 17 characters).
    private const int MaxMethodNamed = 24;

    /// <summary>For <c>UseStatusCodePages</c>: an error status with no body yet.</summary>
    public static Task WriteForStatusAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        return ForStatus(http, http.Response.StatusCode).ExecuteAsync(http);
    }

    /// <summary>For <c>UseExceptionHandler</c>: failures reaching the cluster are transient (503), anything else is ours (500).</summary>
    public static Task WriteForExceptionAsync(HttpContext context)
    {
        var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        var problem = exception is TimeoutException or OrleansException
            ? Unavailable(context)
            : Problems.Create(StatusCodes.Status500InternalServerError, Problems.Internal, "An unexpected error occurred.");
        return problem.ExecuteAsync(context);
    }

    private static ProblemHttpResult Unavailable(HttpContext context) =>
        Problems.RetryLater(context, Problems.Unavailable, "The service cannot answer right now.", "Try again shortly.");

    private static ProblemHttpResult ForStatus(HttpContext context, int status) => status switch
    {
        StatusCodes.Status400BadRequest => Problems.Create(status, Problems.MalformedRequest, "The request could not be read."),
        StatusCodes.Status404NotFound => Problems.Create(status, Problems.NotFound, "Not Found", "Nothing is served at this path."),
        // The method is the client's own text, and Kestrel takes any token as one, as long as the request line allows:
        // it is named back only when it is short enough to be a method.
        StatusCodes.Status405MethodNotAllowed => Problems.Create(status, Problems.MethodNotAllowed, "Method Not Allowed",
            context.Request.Method.Length <= MaxMethodNamed ? $"This path does not take {context.Request.Method}." : "This path does not take this method."),
        StatusCodes.Status408RequestTimeout => Problems.Create(status, Problems.RequestTimeout, "The request arrived too slowly."),
        StatusCodes.Status413PayloadTooLarge => Problems.Create(status, Problems.PayloadTooLarge, "The body is too large."),
        StatusCodes.Status415UnsupportedMediaType => Problems.Create(status, Problems.UnsupportedMediaType, "The body must be JSON."),
        StatusCodes.Status503ServiceUnavailable => Unavailable(context),
        >= 500 => Problems.Create(status, Problems.Internal, "An unexpected error occurred."),
        // Any other error status keeps ASP.NET Core's default type and title for it.
        _ => TypedResults.Problem(statusCode: status),
    };
}
