using System.Reflection;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("OrleansTickets.Tests.Infrastructure.LongCollectionsFirst", "OrleansTickets.Tests")]

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Starts the long collections first: the PostgreSQL ones (PostgresCollections.cs), then the classes marked
/// <see cref="RunsLongAttribute"/>; each group, and the rest after them, in xunit's usual order.
/// </summary>
/// <remarks>
/// xunit starts collections in this order as threads come free (maxParallelThreads in xunit.runner.json), and most
/// take seconds. A collection of a minute or two that happened to be started near the end ran alone for its whole
/// length there, the other threads idle (the PostgreSQL collection for five minutes when it was one; a class of two
/// minutes in another run). Started first, they run beside the short ones.
/// </remarks>
public sealed class LongCollectionsFirst : ITestCollectionOrderer
{
    /// <summary>How xunit (v2) names the collection it makes for a class that names none.</summary>
    private const string ClassCollectionPrefix = "Test collection for ";

    private readonly DefaultTestCollectionOrderer _usualOrder = new();

    /// <inheritdoc/>
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        _usualOrder.OrderTestCollections(testCollections).OrderBy(Rank);

    private static int Rank(ITestCollection collection)
    {
        if (PostgresCollection.All.Contains(collection.DisplayName)) return 0;
        // A class's own collection, named after it. Should xunit name it otherwise, the class goes with the rest: the
        // run is slower, not wrong.
        var className = collection.DisplayName.StartsWith(ClassCollectionPrefix, StringComparison.Ordinal)
            ? collection.DisplayName[ClassCollectionPrefix.Length..]
            : null;
        var testClass = className is null ? null : typeof(LongCollectionsFirst).Assembly.GetType(className);
        return testClass?.GetCustomAttribute<RunsLongAttribute>() is not null ? 1 : 2;
    }
}
