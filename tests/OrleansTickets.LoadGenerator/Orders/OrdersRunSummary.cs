using System.Globalization;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>The result of an orders run, as printed and as written by <c>--summary-json</c>.</summary>
/// <remarks>
/// <see cref="SecondsToLastTicket"/> runs from the first request to the last acknowledged order (the sale's duration,
/// which the rates use); <see cref="SecondsToLastResponse"/> to the last answer any buyer needed before it stopped.
/// <see cref="Abandoned"/> counts requests given up after repeated failures: each may hold an order nobody was told about.
/// <see cref="ClientCpuSeconds"/> is this process's own CPU time during the sale: on one machine the buyers' client
/// competes with the service for the same cores, so a run should say how much of them it took.
/// <see cref="ServiceCpuSeconds"/> is the service process's CPU time over the same span, with <c>--service-pid</c>.
/// <see cref="DatabaseCpuSeconds"/> is that of a database server's processes (see <see cref="UserCpu"/>), with <c>--database-user</c>.
/// <see cref="Steal"/> is what the hypervisor took from this machine's cores over the same span (see <see cref="HypervisorSteal"/>).
/// <see cref="Latency"/> counts every exchange, answered or not; <see cref="PurchaseLatency"/> each buyer's request from
/// its first try to its definite answer (or to giving up), so a purchase that waited out a 503 and tried again counts
/// once, with its waits: what the buyer saw. Without retries the two are the same. <see cref="SoldOutLatency"/> is the
/// "sold out" answers' exchanges alone.
/// <see cref="Tail"/> is the end of the sale, its last fifth of the tickets, against the rest (see <see cref="SaleTail"/>).
/// </remarks>
public sealed record OrdersRunSummary(
    string Url,
    string EventId,
    int Connections,
    bool TimedOut,
    long TicketsSold,
    long Orders,
    double SecondsToLastTicket,
    double SecondsToLastResponse,
    double TicketsPerSecond,
    double OrdersPerSecond,
    long Requests,
    LatencySummary Latency,
    IReadOnlyDictionary<string, long> StatusCounts,
    long Errors,
    long Retries,
    long Abandoned,
    bool Passed,
    IReadOnlyList<VerificationCheck> Checks,
    IReadOnlyList<TypeSoldOut> SoldOut,
    double ClientCpuSeconds,
    double? ServiceCpuSeconds = null,
    double? DatabaseCpuSeconds = null,
    StealShare? Steal = null,
    SaleTail? Tail = null,
    string Transport = LoadOptions.Http11Transport,
    LatencySummary? PurchaseLatency = null,
    LatencySummary? SoldOutLatency = null)
{
    public string Mode => "orders";

    private string CpuTime(double seconds) =>
        Orders > 0 ? $"{seconds:F2} s ({seconds * 1e6 / Orders:F0} µs per order)" : $"{seconds:F2} s";

    public void Write(TextWriter output)
    {
        output.WriteLine();
        output.WriteLine(TimedOut ? "run: TIMED OUT before every type sold out" : "run: every ticket type sold out");
        output.WriteLine($"tickets sold:      {TicketsSold} in {Orders} orders");
        output.WriteLine($"time:              {SecondsToLastTicket:F3} s to the last ticket, {SecondsToLastResponse:F3} s to the last response");
        output.WriteLine($"throughput:        {TicketsPerSecond:F0} tickets/s, {OrdersPerSecond:F0} orders/s");
        output.WriteLine($"requests:          {Requests} ({Retries} retries with the same key, {Errors} errors, {Abandoned} abandoned)");
        output.WriteLine(Latency.ToString());
        if (PurchaseLatency is { Count: > 0 } purchases) output.WriteLine(purchases.Line("purchase ms:      ", "purchases, first try to final answer"));
        if (SoldOutLatency is { Count: > 0 } soldOut) output.WriteLine(soldOut.Line("sold-out ms:      ", "sold-out answers"));
        output.WriteLine("client CPU:        " + CpuTime(ClientCpuSeconds));
        if (ServiceCpuSeconds is { } service) output.WriteLine("service CPU:       " + CpuTime(service));
        if (DatabaseCpuSeconds is { } database) output.WriteLine("database CPU:      " + CpuTime(database));
        if (Tail is { } tail) output.WriteLine("end of the sale:   " + tail);
        if (Steal is { } steal) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"machine steal:     {steal.Seconds:F2} s ({steal.Share:P1} of the cores' time)"));
        output.WriteLine("status counts:     " + string.Join("  ", StatusCounts.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}: {p.Value}"))));
        if (SoldOut.Count > 0)
        {
            output.WriteLine("sold out at:       " + string.Join("  ", SoldOut.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.TicketTypeId} {t.Seconds:F2} s"))));
        }
    }
}
