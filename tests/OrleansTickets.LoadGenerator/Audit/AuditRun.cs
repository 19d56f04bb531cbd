using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Audit;

/// <summary>
/// Checks a finished sale from the orders its buyers were acknowledged: against <c>/sales</c> (verify mode, for a
/// sale another client made: <c>scripts/bench.sh --crowd wrk</c>), and in audit mode against the shard databases
/// (PostgreSQL or SQLite) and the back office's export too (<c>scripts/chaos.sh</c>, <c>scripts/bench.sh</c>).
/// </summary>
public static class AuditRun
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(LoadOptions options)
    {
        // At least a minute; a large sale's audit (1.5M tickets, its export page by page) is given the run's --timeout.
        using var timeout = new CancellationTokenSource(options.Timeout > Timeout ? options.Timeout : Timeout);
        if (await AcknowledgedOrdersFile.TryReadAsync(options.OrdersFile!) is not { } orders) return ExitCodes.CouldNotFinish;
        var sales = await SalesReader.ReadAsync(options.Urls, options.UsesHttp2, options.EventId, timeout.Token);
        if (sales is null) return ExitCodes.CouldNotFinish;
        IReadOnlyList<VerificationCheck> checks;
        if (options.Mode == LoadMode.Audit)
        {
            if (await ReadLedgerAsync(options, timeout.Token) is not { } ledger) return ExitCodes.CouldNotFinish;
            // The back office's export must hand over exactly what the databases hold.
            var exported = await ExportReader.ReadAsync(options.Urls, options.UsesHttp2, options.EventId, timeout.Token);
            if (exported is null) return ExitCodes.CouldNotFinish;
            Console.WriteLine($"audit of {options.EventId}: {orders.Count} acknowledged orders; ledger: {ledger.Shards.Count} shards, " +
                $"{ledger.Orders.Count} orders, {ledger.Tickets.Count} tickets, {ledger.TransfersOut.Count} transfers; export: {exported.Orders.Count} orders");
            checks = LedgerAudit.Audit(ledger, orders, sales, expectSoldOut: true, exported, options.OfferedWithAdditions());
        }
        else
        {
            Console.WriteLine($"verification of {options.EventId}: {orders.Count} acknowledged orders, " +
                $"{orders.Sum(o => (long)o.Tickets.Count)} tickets in them");
            // Another client's bodies carry their requests only in the buyers they name; every one must.
            checks = SaleVerifier.Verify(orders, sales, options.OfferedWithAdditions(), everyRequestKnown: true);
        }
        VerificationTable.Write(Console.Out, checks);
        return SaleVerifier.AllPassed(checks) ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }

    /// <summary>The ledger, or null (said on stderr) when the databases cannot be read: no verdict, rather than a crash.</summary>
    private static async Task<LedgerSnapshot?> ReadLedgerAsync(LoadOptions options, CancellationToken cancellation)
    {
        try
        {
            return options.Postgres is { } postgres
                ? await LedgerReader.ReadPostgresAsync(postgres, options.EventId, cancellation)
                : await LedgerReader.ReadSqliteAsync(options.SqliteData!, options.EventId, cancellation);
        }
        catch (Exception exception) when (exception is System.Data.Common.DbException or IOException or ArgumentException)
        {
            Console.Error.WriteLine($"cannot read the shard databases: {exception.Message}");
            return null;
        }
    }
}
