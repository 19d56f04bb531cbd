using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>
/// A separate front end ships no settings file, yet must log as a silo does: no line, scope or <c>Activity</c> per
/// request unless an operator asks for them.
/// </summary>
public sealed class FrontEndLoggingTests
{
    private const string PerRequest = "Microsoft.AspNetCore.Hosting.Diagnostics";

    [Fact]
    public async Task A_front_end_logs_no_request_and_only_warnings_from_Orleans_by_default()
    {
        await using var app = Build();
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger(PerRequest).IsEnabled(LogLevel.Critical));
        Assert.False(loggers.CreateLogger("Orleans.Messaging").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Orleans.Messaging").IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Polly").IsEnabled(LogLevel.Information));
        // Category rules match by prefix: the rule for Orleans would otherwise quiet this project's own logs too.
        Assert.True(loggers.CreateLogger("OrleansTickets.Api").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void The_silos_settings_file_sets_the_front_ends_levels()
    {
        // Two copies of one list: a level added to one alone would make a front end and a silo log differently.
        var shipped = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json").Build();
        var levels = shipped.GetSection("Logging:LogLevel").GetChildren()
            .Where(level => level.Key != "Default")
            .ToDictionary(level => "Logging:LogLevel:" + level.Key, level => level.Value);

        Assert.Equal(FrontEndHostingExtensions.LoggingDefaults.OrderBy(level => level.Key), levels.OrderBy(level => level.Key));
    }

    [Fact]
    public async Task An_operators_command_line_level_overrides_the_default()
    {
        await using var app = Build($"--Logging:LogLevel:{PerRequest}=Information");

        Assert.True(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(PerRequest).IsEnabled(LogLevel.Information));
    }

    // Built, not started: the Orleans client connects only when the host starts. The content root is an empty folder,
    // as the front end's own output is: the tests' output holds the silo's appsettings.json.
    private static WebApplication Build(params string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args.Append("--Storage:ConnectionString=Host=127.0.0.1;Database=unused").ToArray(),
            ContentRootPath = Directory.CreateTempSubdirectory("front-end-").FullName,
        });
        builder.AddTicketingFrontEnd();
        return builder.Build();
    }
}
