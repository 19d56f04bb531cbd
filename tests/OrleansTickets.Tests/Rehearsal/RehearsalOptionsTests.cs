using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansTickets.Silo.Rehearsal;

namespace OrleansTickets.Tests.Rehearsal;

/// <summary>A mistyped rehearsal setting fails the start like any configuration error, instead of rehearsing oddly.</summary>
public sealed class RehearsalOptionsTests
{
    [Theory]
    [InlineData("Tickets", "999")]
    [InlineData("Buyers", "0")]
    [InlineData("EndPasses", "-1")]
    [InlineData("EndPasses", "11")]
    [InlineData("TimeLimitSeconds", "0")]
    [InlineData("SettleSeconds", "-1")]
    public async Task A_rehearsal_setting_out_of_range_stops_the_service_from_starting(string setting, string value)
    {
        using var host = BuildHost(setting, value);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Rehearsal needs", error.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("10")]
    public void End_passes_from_0_to_10_are_accepted(string value)
    {
        using var host = BuildHost("EndPasses", value);

        Assert.Equal(int.Parse(value, System.Globalization.CultureInfo.InvariantCulture),
            host.Services.GetRequiredService<IOptions<RehearsalOptions>>().Value.EndPasses);
    }

    private static IHost BuildHost(string setting, string value)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rehearsal:Enabled"] = "true",
            [$"Rehearsal:{setting}"] = value,
        });
        builder.Services.AddOnSaleRehearsal();
        return builder.Build();
    }
}
