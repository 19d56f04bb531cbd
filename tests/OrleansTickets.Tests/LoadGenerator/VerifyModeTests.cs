using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansTickets.LoadGenerator;
using OrleansTickets.LoadGenerator.Audit;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// Verify mode checks a sale another client made (scripts/bench.sh --crowd wrk): the response bodies it kept, one
/// per line, against <c>/sales</c>, which a local endpoint stands in for here.
/// </summary>
public sealed class VerifyModeTests : IDisposable
{
    // A sold-out type of 3 tickets on one shard, as /sales reports it.
    private const string Sales =
        """{"eventId":"festival","ticketTypes":[{"id":"ga","capacity":3,"sold":3,"remaining":0,"known":true,"shards":[{"index":0,"capacity":3,"sold":3,"remaining":0,"status":"sold-out","known":true}]}]}""";
    // Bodies as scripts/wrk/sellout.lua keeps them: the buyer's name states the request (scripts/wrk/buyers.lua).
    private const string First =
        """{"orderId":"o-1","ticketTypeId":"ga","quantity":2,"tickets":[{"code":"A","serial":1},{"code":"B","serial":2}],"buyer":{"name":"Wrk Buyer 1-1 asks for 2 ga","email":"wrk-1-1@example.test"}}""";

    private readonly string _orders = Path.Combine(Path.GetTempPath(), $"verify-{Guid.NewGuid():N}.jsonl");

    public void Dispose() => File.Delete(_orders);

    [Fact]
    public async Task Bodies_that_account_for_every_ticket_sold_pass()
    {
        await File.WriteAllTextAsync(_orders, First + "\n" + """{"orderId":"o-2","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"C","serial":3}],"buyer":{"name":"Wrk Buyer 1-2 asks for 1 ga","email":"wrk-1-2@example.test"}}""" + "\n");

        Assert.Equal(ExitCodes.Passed, await VerifyAsync());
    }

    [Fact]
    public async Task A_code_given_twice_fails_the_check()
    {
        await File.WriteAllTextAsync(_orders, First + "\n" + """{"orderId":"o-2","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"A","serial":3}],"buyer":{"name":"Wrk Buyer 1-2 asks for 1 ga","email":"wrk-1-2@example.test"}}""" + "\n");

        Assert.Equal(ExitCodes.CheckFailed, await VerifyAsync());
    }

    [Fact]
    public async Task A_ticket_sold_but_in_no_body_fails_the_check()
    {
        await File.WriteAllTextAsync(_orders, First + "\n");

        Assert.Equal(ExitCodes.CheckFailed, await VerifyAsync());
    }

    [Theory]
    [InlineData("Wrk Buyer 1-2 asks for 2 ga", "wrk-1-2@example.test")] // one ticket sold to a buyer who asked for two
    [InlineData("Wrk Buyer 1-2 asks for 1 vip", "wrk-1-2@example.test")] // a ga ticket sold to a buyer who asked for VIP
    [InlineData("Wrk Buyer 1-2", "wrk-1-2@example.test")] // a buyer who states no request: nothing to compare with
    [InlineData("Wrk Buyer 1-2 asks for 1 ga", "wrk-1-3@example.test")] // a buyer put together from two requests
    [InlineData("Wrk Buyer 1-1 asks for 1 ga", "wrk-1-1@example.test")] // the first order's request answered again
    public async Task An_answer_that_is_not_what_its_buyer_asked_for_fails_the_check(string name, string email)
    {
        // Every count agrees with /sales: only the request can tell.
        await File.WriteAllTextAsync(_orders, First + "\n" + $$$"""{"orderId":"o-2","ticketTypeId":"ga","quantity":1,"tickets":[{"code":"C","serial":3}],"buyer":{"name":"{{{name}}}","email":"{{{email}}}"}}""" + "\n");

        Assert.Equal(ExitCodes.CheckFailed, await VerifyAsync());
    }

    private async Task<int> VerifyAsync()
    {
        await using var sales = await StandInEndpoint.StartAsync(app =>
            app.MapGet("/api/events/festival/sales", () => Results.Content(Sales, "application/json")));

        return await AuditRun.RunAsync(LoadOptionsParser.Parse(["--mode", "verify", "--url", sales.Address, "--orders-file", _orders, "--offered", "ga=3"]));
    }
}
