using OrleansTickets.LoadGenerator;
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
    return options.Mode == LoadMode.Orders ? await OrdersRun.RunAsync(options) : await BareRun.RunAsync(options);
}
catch (UsageException exception)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    Console.Error.WriteLine(LoadOptionsParser.Usage);
    return ExitCodes.Usage;
}
