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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Any_map_gives_each_database_its_even_share_and_each_of_its_shards_an_even_split(int seed)
    {
        // Maps of every shape, up to a type's 4,096 shards over hundreds of databases: the rules above, checked whole.
        var random = new Random(seed);
        for (var round = 0; round < 20; round++)
        {
            var shards = random.Next(1, 4097);
            var capacity = random.Next(shards, 10_000_001);
            var databases = Enumerable.Range(0, shards).Select(_ => random.Next(0, random.Next(1, 600))).ToArray();
            var sizes = Type(capacity, shards).BlockSizesByDatabase(databases);

            Assert.Equal(capacity, sizes.Sum(size => (long)size));
            var byDatabase = Enumerable.Range(0, shards).GroupBy(shard => databases[shard]).ToList();
            // Ranked by first shard (GroupBy keeps that order): the first (capacity mod count) take one more.
            for (var rank = 0; rank < byDatabase.Count; rank++)
            {
                var share = capacity / byDatabase.Count + (rank < capacity % byDatabase.Count ? 1 : 0);
                var ofDatabase = byDatabase[rank].Select(shard => sizes[shard]).ToList();
                Assert.Equal(share, ofDatabase.Sum());
                // Within a database, earlier shards take the remainder: never smaller than a later one, at most one more.
                Assert.True(ofDatabase.Zip(ofDatabase.Skip(1)).All(pair => pair.First >= pair.Second), $"round {round}: not in order");
                Assert.True(ofDatabase.Max() - ofDatabase.Min() <= 1, $"round {round}: uneven split");
            }
        }
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
