using OrleansTickets.Api;
using OrleansTickets.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddTicketingSilo();

var app = builder.Build();
app.MapTicketingApi();
app.Run();

/// <summary>Entry point, visible to the tests that host the real application.</summary>
public partial class Program;
