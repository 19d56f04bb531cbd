using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Orders;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The generator's warm-up runs the buyers' real answer handling, not its failure branches.</summary>
public sealed class AnswerHandlingWarmUpTests
{
    [Fact]
    public void The_samples_are_read_as_an_acknowledged_order_and_a_sold_out_answer()
    {
        var (order, soldOut) = AnswerHandlingWarmUp.Run();

        Assert.Equal(PostResult.Acknowledged, order.Result);
        Assert.Equal(2, order.Order!.Tickets.Count);
        Assert.NotNull(order.Body);
        Assert.Equal(PostResult.SoldOut, soldOut.Result);
        Assert.Equal(1, soldOut.Remaining);
    }

    [Fact]
    public async Task The_scratch_sale_buys_every_round_then_stops_at_sold_out_without_giving_up_a_request()
    {
        // A sold-out answer read as a failure would leave the buyer retrying and then giving the request up, after
        // seconds of back-off taken from the waiting room.
        Assert.Equal((AnswerHandlingWarmUp.Rounds, 0), await AnswerHandlingWarmUp.RunScratchSaleAsync());
    }
}
