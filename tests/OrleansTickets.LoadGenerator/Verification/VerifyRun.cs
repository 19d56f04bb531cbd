using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// Checks a sale that another client made (<c>scripts/bench.sh --crowd wrk</c>): its acknowledged orders against
/// <c>/sales</c>, with the same checks an orders run makes after its own sale.
/// </summary>
public static class VerifyRun
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(LoadOptions options)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        List<AcknowledgedOrder> orders;
        try
        {
            orders = await AcknowledgedOrdersFile.ReadAsync(options.OrdersFile!);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cannot read the acknowledged orders: {exception.Message}");
            return ExitCodes.CouldNotFinish;
        }
        var sales = await SalesReader.ReadAsync(options.Urls, options.EventId, timeout.Token);
        if (sales is null) return ExitCodes.CouldNotFinish;
        Console.WriteLine($"verification of {options.EventId}: {orders.Count} acknowledged orders, " +
            $"{orders.Sum(o => (long)o.Tickets.Count)} tickets in them");
        var checks = SaleVerifier.Verify(orders, sales);
        VerificationTable.Write(Console.Out, checks);
        return SaleVerifier.AllPassed(checks) ? ExitCodes.Passed : ExitCodes.CheckFailed;
    }
}
