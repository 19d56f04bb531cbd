using Xunit.Sdk;

namespace OrleansTickets.Tests.Infrastructure;

public sealed class LongCollectionsFirstTests
{
    [Fact]
    public void The_postgres_collections_start_first_then_the_classes_that_run_long_then_the_rest()
    {
        var assembly = new TestAssembly(Reflector.Wrap(typeof(LongCollectionsFirstTests).Assembly));
        TestCollection Named(string name) => new(assembly, null, name);
        TestCollection Of(Type testClass) => Named("Test collection for " + testClass.FullName);
        TestCollection[] postgres = [Named(PostgresKeysCollection.Name), Named(PostgresCollection.Name)];
        TestCollection[] runLong = [Of(typeof(Grains.FrozenShardGrantTests)), Of(typeof(Grains.DispatcherPatienceTests))];
        TestCollection[] rest = [Of(typeof(LongCollectionsFirstTests)), Named("a collection of no class"), Named("postgres: a name none of ours has")];
        var collections = new[] { rest[0], runLong[0], postgres[0], rest[1], rest[2], postgres[1], runLong[1] };
        var usual = new DefaultTestCollectionOrderer().OrderTestCollections(collections).ToList();

        var ordered = new LongCollectionsFirst().OrderTestCollections(collections);

        // Each group in the order xunit would have used.
        var expected = new[] { postgres, runLong, rest }.SelectMany(group => usual.Where(group.Contains));
        Assert.Equal(expected.Select(c => c.DisplayName), ordered.Select(c => c.DisplayName));
    }
}
