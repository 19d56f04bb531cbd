using Microsoft.AspNetCore.Http.HttpResults;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Every error the API returns is RFC 9457 problem+json with one of these stable <c>type</c> URIs; clients
/// branch on the type, never on the human-readable title or detail.
/// </summary>
public static class Problems
{
    /// <summary>The prefix of every problem type this API defines.</summary>
    public const string Base = "https://orleanstickets.dev/problems/";

    public const string Validation = Base + "validation";
    public const string MalformedRequest = Base + "malformed-request";
    public const string PayloadTooLarge = Base + "payload-too-large";
    public const string RequestTimeout = Base + "request-timeout";
    public const string UnsupportedMediaType = Base + "unsupported-media-type";
    public const string EventNotFound = Base + "event-not-found";
    public const string TicketTypeNotFound = Base + "ticket-type-not-found";
    public const string OrderNotFound = Base + "order-not-found";
    public const string ShardNotFound = Base + "shard-not-found";
    public const string EventExists = Base + "event-exists";
    public const string SoldOut = Base + "sold-out";
    public const string TicketsScattered = Base + "tickets-scattered";
    public const string IdempotencyKeyConflict = Base + "idempotency-key-conflict";
    public const string NoShardTakesTickets = Base + "no-shard-takes-tickets";
    public const string Unavailable = Base + "unavailable";
    public const string Overloaded = Base + "overloaded";
    public const string TooManyRequests = Base + "too-many-requests";
    public const string OutcomeUnknown = Base + "outcome-unknown";
    public const string Internal = Base + "internal";
    public const string NotFound = Base + "not-found";
    public const string MethodNotAllowed = Base + "method-not-allowed";
    public const string OperatorKeyRequired = Base + "operator-key-required";
    public const string OperatorsOnly = Base + "operators-only";

    /// <summary>A problem response with a stable type and optional extension members.</summary>
    public static ProblemHttpResult Create(int status, string type, string title, string? detail = null,
        IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title, type: type, extensions: extensions);

    /// <summary>400 with per-field errors.</summary>
    public static ProblemHttpResult Invalid(IDictionary<string, string[]> errors) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Type = Validation,
            Title = "The request has invalid fields.",
        });

    /// <summary>400 for one invalid field.</summary>
    public static ProblemHttpResult Invalid(string field, string message) =>
        Invalid(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>503 that tells the client when to come back.</summary>
    public static ProblemHttpResult RetryLater(HttpContext context, string type, string title, string detail)
    {
        context.Response.Headers.RetryAfter = "1";
        return Create(StatusCodes.Status503ServiceUnavailable, type, title, detail);
    }

    /// <summary>503 from a server that has begun to stop: the caller should go to another server.</summary>
    public static ProblemHttpResult Stopping(HttpContext context, string detail) =>
        RetryLater(context, Unavailable, "This server is stopping.", detail);
}
