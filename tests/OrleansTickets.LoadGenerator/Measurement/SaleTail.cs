using System.Globalization;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>
/// The last <see cref="TicketShare"/> of a sale's tickets against the rest: how long it took and what it cost the
/// service per order. The end of a sale is where homes run dry, orders are forwarded and dispatchers ask every shard
/// before they answer "sold out" (docs/benchmarks.md, eleventh session), so a run reports it apart from the body.
/// </summary>
/// <remarks>
/// <see cref="P99Milliseconds"/> and <see cref="BodyP99Milliseconds"/> are the 99th percentile latency of the responses
/// after and before the mark, which shows whether a run's slowest orders come at its end.
/// </remarks>
public sealed record SaleTail(
    double TicketShare, double Seconds, double ShareOfTime, long Orders, double? ServiceMicrosPerOrder, double? BodyServiceMicrosPerOrder,
    double? P99Milliseconds = null, double? BodyP99Milliseconds = null)
{
    /// <summary>
    /// Splits the sale from <paramref name="start"/> to <paramref name="end"/> at <paramref name="mark"/>, the moment the
    /// last <paramref name="ticketShare"/> of its tickets began; null when the sale has no length or no orders on a side.
    /// </summary>
    public static SaleTail? Split(double ticketShare, SaleMark start, SaleMark mark, SaleMark end)
    {
        long bodyOrders = mark.Orders - start.Orders, tailOrders = end.Orders - mark.Orders;
        var length = end.Seconds - start.Seconds;
        if (length <= 0 || bodyOrders <= 0 || tailOrders <= 0) return null;
        return new SaleTail(ticketShare, end.Seconds - mark.Seconds, (end.Seconds - mark.Seconds) / length, tailOrders,
            MicrosPerOrder(mark.ServiceCpu, end.ServiceCpu, tailOrders), MicrosPerOrder(start.ServiceCpu, mark.ServiceCpu, bodyOrders));
    }

    private static double? MicrosPerOrder(TimeSpan? from, TimeSpan? to, long orders) =>
        from is { } a && to is { } b ? (b - a).TotalMicroseconds / orders : null;

    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"last {TicketShare * 100:F0}% of the tickets: {Seconds:F2} s ({ShareOfTime * 100:F0}% of the sale), {Orders} orders");
        if (ServiceMicrosPerOrder is { } tail && BodyServiceMicrosPerOrder is { } body)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"; service {tail:F0} µs per order, against {body:F0} before");
        }
        if (P99Milliseconds is { } p99 && BodyP99Milliseconds is { } bodyP99)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"; p99 {p99:F1} ms, against {bodyP99:F1} before");
        }
        return text;
    }
}
