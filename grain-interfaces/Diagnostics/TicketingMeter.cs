namespace OrleansTickets.Diagnostics;

/// <summary>
/// The one meter of the service's own instruments: the silo's sale metrics and each API process's admission gauges
/// (a front end loads no grain code, so the name lives here, where both reach it). One name means one
/// <c>dotnet-counters monitor --counters OrleansTickets</c> or one OpenTelemetry <c>AddMeter</c> shows them all.
/// </summary>
public static class TicketingMeter
{
    /// <summary>The meter's name.</summary>
    public const string Name = "OrleansTickets";
}
