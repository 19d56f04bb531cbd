using OrleansTickets.Api;
using OrleansTickets.Api.Hosting;
using OrleansTickets.Silo.Hosting;

// Settings ship beside the binary; relative paths such as the data folder resolve against the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
return builder.ConfigureAndRun(silo => silo.AddTicketingSilo(), app => app.MapTicketingApi());
