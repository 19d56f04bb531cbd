using System.Globalization;
using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.LoadGenerator.Bare;

/// <summary>The result of a bare run, as printed and as written by <c>--summary-json</c>.</summary>
/// <remarks><see cref="Errors"/> counts responses outside 2xx plus exchanges that got no response.</remarks>
public sealed record BareRunSummary(
    string Url,
    string Path,
    int Connections,
    double Seconds,
    long Requests,
    double RequestsPerSecond,
    LatencySummary Latency,
    IReadOnlyDictionary<string, long> StatusCounts,
    long Errors)
{
    public string Mode => "bare";

    public void Write(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"requests:      {Requests} in {Seconds:F3} s = {RequestsPerSecond:F0} requests/s ({Errors} errors)");
        output.WriteLine(Latency.ToString());
        output.WriteLine("status counts: " + string.Join("  ", StatusCounts.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}"))));
    }
}
