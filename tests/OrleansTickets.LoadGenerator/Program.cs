using OrleansTickets.LoadGenerator;
using OrleansTickets.LoadGenerator.Audit;
using OrleansTickets.LoadGenerator.Bare;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Orders;

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(LoadOptionsParser.Usage);
    return ExitCodes.Passed;
}
try
{
    var options = LoadOptionsParser.Parse(args);
    return options.Mode switch
    {
        LoadMode.Orders => await OrdersRun.RunAsync(options),
        LoadMode.Bare => await BareRun.RunAsync(options),
        _ => await AuditRun.RunAsync(options),
    };
}
catch (UsageException exception)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    Console.Error.WriteLine(LoadOptionsParser.Usage);
    return ExitCodes.Usage;
}
