namespace OrleansTickets.Api.Http;

/// <summary>Maps a read for both GET and HEAD (RFC 9110 §9.1); Kestrel sends a HEAD's headers without the body.</summary>
public static class ReadRoutes
{
    private static readonly string[] GetAndHead = [HttpMethods.Get, HttpMethods.Head];

    public static RouteHandlerBuilder MapRead(this IEndpointRouteBuilder routes, string pattern, Delegate handler) =>
        routes.MapMethods(pattern, GetAndHead, handler);
}
