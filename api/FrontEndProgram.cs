using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Api;

/// <summary>
/// The API as its own process: a stateless web front end that reaches the silos as an Orleans client, the shape of
/// the story's web roles. The co-hosted silo is the simpler default; this is for scaling the HTTP tier separately.
/// </summary>
internal static class FrontEndProgram
{
    public static int Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        return builder.ConfigureAndRun(frontEnd => frontEnd.AddTicketingFrontEnd(), app => app.MapTicketingApi());
    }
}
