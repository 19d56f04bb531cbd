using OrleansTickets.Events;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// Blocks shared by database: each database holds an even share of a type's tickets whatever its number of the type's
/// shards, and the blocks still cover 1..Capacity once, in index order.
/// </summary>
public sealed class BlocksByDatabaseTests
{
    [Theory]
    // The festival's Friday: 10 shards dealt round 4 databases lie 3, 3, 2 and 2; each database holds 1,500.
    [InlineData(6000, new[] { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1 }, new[] { 500, 500, 750, 750, 500, 500, 750, 750, 500, 500 })]
    // Sunday: 6 shards lie 2, 2, 1 and 1; 4,000 tickets are 1,000 a database.
    [InlineData(4000, new[] { 2, 3, 0, 1, 2, 3 }, new[] { 500, 500, 1000, 1000, 500, 500 })]
    // Remainders: earlier databases by their first shard, then earlier shards within a database.
    [InlineData(11, new[] { 1, 0, 1 }, new[] { 3, 5, 3 })]
    [InlineData(10, new[] { 1, 0, 1 }, new[] { 3, 5, 2 })]
    // One database holds them all: the even split between shards.
    [InlineData(10, new[] { 0, 0, 0 }, new[] { 4, 3, 3 })]
    // Fewer tickets than shards on a database: some blocks are empty, none negative.
    [InlineData(3, new[] { 0, 1, 0, 1 }, new[] { 1, 1, 1, 0 })]
    public void Each_database_holds_an_even_share_split_between_its_shards(int capacity, int[] databases, int[] sizes)
    {
        var type = Type(capacity, databases.Length);

        Assert.Equal(sizes, type.BlockSizesByDatabase(databases));
        var blocks = Enumerable.Range(0, databases.Length).Select(index => type.BlockOf(index, databases)).ToList();
        Assert.Equal(sizes, blocks.Select(block => block.Size));
        // Disjoint and covering, in index order: each block starts where the one before ended.
        var next = 1L;
        foreach (var block in blocks)
        {
            Assert.Equal(next, block.First);
            next += block.Size;
        }
        Assert.Equal(capacity + 1L, next);
    }

    [Fact]
    public void Shards_dealt_evenly_round_the_databases_get_the_even_split_between_shards()
    {
        // 400 shards on 4 databases, 100 each: the same blocks as before databases counted.
        var type = Type(100_000, 400);
        var databases = Enumerable.Range(0, 400).Select(index => (index + 3) % 4).ToArray();

        Assert.All(Enumerable.Range(0, 400), index => Assert.Equal(type.BlockOf(index), type.BlockOf(index, databases)));
    }

    [Fact]
    public void A_map_that_does_not_name_one_database_per_shard_is_refused()
    {
        var type = Type(10, 3);

        Assert.Throws<ArgumentException>(() => type.BlockSizesByDatabase([0, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => type.BlockOf(3, [0, 1, 2]));
    }

    private static TicketTypeDefinition Type(int capacity, int shards) => new("ga", "General admission", 10m, "GBP", capacity, shards, 4);
}
