using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Audit;

/// <summary>
/// Checks a finished sale from the orders its buyers were acknowledged: against <c>/sales</c> (verify mode, for a
/// sale another client made: <c>scripts/bench.sh --crowd wrk</c>), and in audit mode against the PostgreSQL shard
/// databases and the back office's export too (<c>scripts/chaos.sh</c>).
/// </summary>
public static class AuditRun
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(LoadOptions options)
    {
        // At least a minute; a large sale's audit (1.5M tickets, its export page by page) is given the run's --timeout.
        using var timeout = new CancellationTokenSource(options.Timeout > Timeout ? options.Timeout : Timeout);
        if (await AcknowledgedOrdersFile.TryReadAsync(options.OrdersFile!) is not { } orders) return ExitCodes.CouldNotFinish;
        var sales = await SalesReader.ReadAsync(options.Urls, options.EventId, timeout.Token);
        if (sales is null) return ExitCodes.CouldNotFinish;
        IReadOnlyList<VerificationCheck> checks;
        if (options.Mode == LoadMode.Audit)
        {
            var ledger = await LedgerReader.ReadAsync(options.Postgres!, options.EventId, timeout.Token);
            // The back office's export must hand over exactly what the databases hold.
            var exported = await ExportReader.ReadAsync(options.Urls, options.EventId, timeout.Token);
            if (exported is null) return ExitCodes.CouldNotFinish;
            Console.WriteLine($"audit of {options.EventId}: {orders.Count} acknowledged orders; ledger: {ledger.Shards.Count} shards, " +
                $"{ledger.Orders.Count} orders, {ledger.Tickets.Count} tickets, {ledger.TransfersOut.Count} transfers; export: {exported.Count} orders");
            checks = LedgerAudit.Audit(ledger, orders, sales, expectSoldOut: true, exported);
        }
        else
        {
            Console.WriteLine($"verification of {options.EventId}: {orders.Count} acknowledged orders, " +
                $"{orders.Sum(o => (long)o.Tickets.Count)} tickets in them");
            checks = SaleVerifier.Verify(orders, sales, options.OfferedWithAdditions());
        }
        VerificationTable.Write(Console.Out, checks);
        return SaleVerifier.AllPassed(checks) ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }
}
