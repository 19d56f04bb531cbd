using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Audit;

/// <summary>Audits a finished sale: the acknowledged orders and <c>/sales</c> against the shard databases.</summary>
public static class AuditRun
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(LoadOptions options)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        if (await AcknowledgedOrdersFile.TryReadAsync(options.OrdersFile!) is not { } orders) return ExitCodes.CouldNotFinish;
        var sales = await SalesReader.ReadAsync(options.Urls, options.EventId, timeout.Token);
        if (sales is null) return ExitCodes.CouldNotFinish;
        var ledger = await LedgerReader.ReadAsync(options.Postgres!, options.EventId, timeout.Token);
        Console.WriteLine($"audit of {options.EventId}: {orders.Count} acknowledged orders; ledger: {ledger.Shards.Count} shards, " +
            $"{ledger.Orders.Count} orders, {ledger.Tickets.Count} tickets, {ledger.TransfersOut.Count} transfers");
        var checks = LedgerAudit.Audit(ledger, orders, sales, expectSoldOut: true);
        VerificationTable.Write(Console.Out, checks);
        return checks.All(c => c.Passed) ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }
}
