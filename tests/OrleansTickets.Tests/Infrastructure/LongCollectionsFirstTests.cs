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
        var collections = new[]
        {
            Of(typeof(LongCollectionsFirstTests)),
            Of(typeof(OrleansTickets.Tests.Grains.FrozenShardGrantTests)),
            Named(PostgresKeysCollection.Name),
            Named("a collection of no class"),
            Named(PostgresCollection.Name),
            Of(typeof(OrleansTickets.Tests.Grains.DispatcherPatienceTests)),
        };
        var usual = new DefaultTestCollectionOrderer().OrderTestCollections(collections).ToList();

        var ordered = new LongCollectionsFirst().OrderTestCollections(collections).ToList();

        Assert.Equal(
            usual.Where(c => c.DisplayName.StartsWith("postgres", StringComparison.Ordinal))
                .Concat(usual.Where(c => c.DisplayName.EndsWith("FrozenShardGrantTests", StringComparison.Ordinal) || c.DisplayName.EndsWith("DispatcherPatienceTests", StringComparison.Ordinal)))
                .Concat(usual.Where(c => c.DisplayName.EndsWith("LongCollectionsFirstTests", StringComparison.Ordinal) || c.DisplayName == "a collection of no class"))
                .Select(c => c.DisplayName),
            ordered.Select(c => c.DisplayName));
    }
}
