using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The acknowledged orders a check reads back: what an orders run wrote (one JSON array), or the response bodies
/// another client kept, one per line (scripts/wrk/sellout.lua).
/// </summary>
public sealed class AcknowledgedOrdersFileTests : IDisposable
{
    // Two response bodies as the service writes them, fields the generator does not read included.
    private const string First =
        """{"orderId":"o-1","eventId":"festival","ticketTypeId":"ga","quantity":2,"tickets":[{"code":"A","serial":1},{"code":"B","serial":2}],"total":398.00}""";
    private const string Second =
        """{"orderId":"o-2","eventId":"festival","ticketTypeId":"vip","quantity":1,"tickets":[{"code":"C","serial":7}],"total":499.00}""";

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"acknowledged-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task What_an_orders_run_writes_reads_back_whole()
    {
        AcknowledgedOrder[] orders =
        [
            new("o-1", "ga", 2, [new IssuedTicket("A", 1), new IssuedTicket("B", 2)]),
            new("o-2", "vip", 1, [new IssuedTicket("C", 7)]),
        ];
        await AcknowledgedOrdersFile.WriteAsync(_path, orders);

        var read = await AcknowledgedOrdersFile.ReadAsync(_path);

        Assert.Equal(["o-1", "o-2"], read.Select(o => o.OrderId));
        Assert.Equal(["A", "B", "C"], read.SelectMany(o => o.Tickets).Select(t => t.Code));
    }

    [Fact]
    public async Task Response_bodies_one_per_line_are_read_as_orders()
    {
        await File.WriteAllTextAsync(_path, $"{First}\n{Second}\n\n");

        var read = await AcknowledgedOrdersFile.ReadAsync(_path);

        Assert.Equal([("o-1", "ga", 2), ("o-2", "vip", 1)], read.Select(o => (o.OrderId, o.TicketTypeId, o.Tickets.Count)));
    }

    [Fact]
    public async Task A_body_carries_the_request_its_buyer_states()
    {
        // scripts/wrk/buyers.lua's buyers; a type id with a hyphen; a body whose buyer states nothing.
        const string stated =
            """{"orderId":"o-3","ticketTypeId":"early-bird","quantity":3,"tickets":[],"buyer":{"name":"Wrk Buyer 2-17 asks for 4 early-bird","email":"wrk-2-17@example.test"}}""";
        const string silent =
            """{"orderId":"o-4","ticketTypeId":"ga","quantity":1,"tickets":[],"buyer":{"name":"Ada Lovelace","email":"ada@example.test"}}""";
        await File.WriteAllTextAsync(_path, $"{stated}\n{silent}\n{First}\n");

        var read = await AcknowledgedOrdersFile.ReadAsync(_path);

        Assert.Equal(new OrderRequested("early-bird", 4, "Wrk Buyer 2-17 asks for 4 early-bird", "wrk-2-17@example.test", "2-17"), read[0].Requested);
        Assert.Null(read[1].Requested);
        Assert.Null(read[2].Requested); // no buyer at all
    }

    [Theory]
    [InlineData("Wrk Buyer 1-1 asks for 2 ga", "wrk-1-1@example.test", "ga", 2)]
    [InlineData("Wrk Buyer 1-1 asks for 2 ga", "wrk-1-2@example.test")] // name and address from two requests
    [InlineData("Wrk Buyer 1-1 asks for 2 ga", "b@example.test")]
    [InlineData("Buyer 1-1 asks for 2 ga", "wrk-1-1@example.test")]
    [InlineData("Wrk Buyer 1-1 asks for two ga", "wrk-1-1@example.test")]
    [InlineData("Wrk Buyer 1-1 asks for 2 ga please", "wrk-1-1@example.test")]
    [InlineData("Wrk Buyer 1-1 asks for 99999999999 ga", "wrk-1-1@example.test")] // more digits than a quantity has
    [InlineData("Wrk Buyer 1-1 asks for -2 ga", "wrk-1-1@example.test")]
    public void A_buyer_states_a_request_only_in_the_one_form(string name, string email, string? type = null, int quantity = 0)
    {
        var stated = StatedRequest.From(new OrderBuyer(name, email));

        Assert.Equal(type is null ? null : new OrderRequested(type, quantity, name, email, "1-1"), stated);
    }

    [Fact]
    public async Task A_body_cut_short_is_an_error_naming_its_line_not_an_order_left_out()
    {
        await File.WriteAllTextAsync(_path, $"{First}\n{Second[..40]}\n");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => AcknowledgedOrdersFile.ReadAsync(_path));

        Assert.Contains($"{_path}:2", error.Message);
    }

    [Fact]
    public async Task A_check_gets_no_orders_from_a_missing_file_or_a_body_cut_short()
    {
        Assert.Null(await AcknowledgedOrdersFile.TryReadAsync(_path));

        await File.WriteAllTextAsync(_path, $"{First}\n{Second[..40]}\n");
        Assert.Null(await AcknowledgedOrdersFile.TryReadAsync(_path));

        await File.WriteAllTextAsync(_path, $"{First}\n");
        Assert.Single((await AcknowledgedOrdersFile.TryReadAsync(_path))!);
    }
}
