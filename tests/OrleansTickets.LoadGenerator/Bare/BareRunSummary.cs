using System.Globalization;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;

namespace OrleansTickets.LoadGenerator.Bare;

/// <summary>The result of a bare run, as printed and as written by <c>--summary-json</c>.</summary>
/// <remarks>
/// <see cref="Errors"/> counts responses outside 2xx plus exchanges that got no response.
/// <see cref="ClientCpuSeconds"/> is this process's CPU time over the measured span, and <see cref="ServerCpuSeconds"/>
/// the endpoint's, with <c>--service-pid</c>: per request, what plain HTTP costs each side on this machine.
/// </remarks>
public sealed record BareRunSummary(
    string Url,
    string Path,
    int Connections,
    double Seconds,
    long Requests,
    double RequestsPerSecond,
    LatencySummary Latency,
    IReadOnlyDictionary<string, long> StatusCounts,
    long Errors,
    double ClientCpuSeconds,
    double? ServerCpuSeconds = null,
    string Transport = LoadOptions.Http11Transport)
{
    public string Mode => "bare";

    private string CpuTime(double seconds) =>
        Requests > 0 ? $"{seconds:F2} s ({seconds * 1e6 / Requests:F0} µs per request)" : $"{seconds:F2} s";

    public void Write(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"requests:      {Requests} in {Seconds:F3} s = {RequestsPerSecond:F0} requests/s ({Errors} errors)");
        output.WriteLine(Latency.ToString());
        output.WriteLine("client CPU:    " + CpuTime(ClientCpuSeconds));
        if (ServerCpuSeconds is { } server) output.WriteLine("server CPU:    " + CpuTime(server));
        output.WriteLine("status counts: " + string.Join("  ", StatusCounts.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}"))));
    }
}
