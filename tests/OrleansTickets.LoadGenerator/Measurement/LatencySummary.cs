using System.Globalization;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P95, double P99, double Max)
{
    public override string ToString() => Count == 0 ? "latency: no responses" : Line("latency ms:", "responses");

    /// <summary>One line of output: <paramref name="label"/>, the percentiles, and the count of <paramref name="counted"/>.</summary>
    public string Line(string label, string counted) =>
        string.Create(CultureInfo.InvariantCulture, $"{label} p50 {P50:F2}  p95 {P95:F2}  p99 {P99:F2}  max {Max:F2}  ({Count} {counted})");
}
