using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A drain whose first commit (the shard's retirement) landed but whose answer was lost: the operator hears 503, and
/// the shard, drained in the database, must hand its tickets on by itself rather than wait for the next call to reach it.
/// </summary>
public sealed class LostRetireAnswerTests(ITestOutputHelper output)
{
    [PostgresFact]
    public async Task A_drain_whose_retirement_landed_without_its_answer_hands_the_tickets_on_without_another_call()
    {
        await using var server = new PostgresServer();
        await server.StartAsync();
        var commits = new UnreplicatedCommits(server);
        await using var cluster = await TicketingCluster.StartAsync(TestStorage.Postgres(server), output: output);
        await cluster.CreateEventAsync("lost-retire", TicketingCluster.Type("ga", capacity: 20, shards: 2));
        await cluster.Shard("lost-retire", "ga", 0).GetSales();
        await cluster.Shard("lost-retire", "ga", 1).GetSales();

        // From here commits land and wait; the retirement's session is ended, as a broken network would end it.
        await commits.StallAsync();
        var drain = cluster.Shard("lost-retire", "ga", 0).Drain();
        try
        {
            await commits.CutNextAsync(ShardDatabases.WriterApplicationSuffix);
        }
        finally
        {
            await commits.ResumeAsync();
        }
        Assert.False((await drain).Available);

        // Nobody calls shard 0 again: its own timer must reload it, find it drained, and hand its 10 tickets on.
        var receiver = cluster.Shard("lost-retire", "ga", 1);
        await Poll.UntilAsync(async () => (await receiver.GetSales()).Remaining == 20,
            attempts: 100, failure: "The drained shard kept its tickets until something called it.");
    }
}
