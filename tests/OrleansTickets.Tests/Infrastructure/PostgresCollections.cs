namespace OrleansTickets.Tests.Infrastructure;

// The classes that need PostgreSQL are spread over several collections, each with a server of its own. xunit runs a
// collection's classes one after another, and in one collection they took five of the suite's eleven minutes, most
// of it alone at the end; as five, they run beside each other and the rest. A class stays in one collection: some
// restart their server or cut a database off, which the other classes of that collection never see, since they do
// not run meanwhile. Groups are by subject and kept to similar lengths (1.5 to 2 minutes on 2 cores).

/// <summary>Storage, hosting, rehearsal and the back office's readers on PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "postgres";

    /// <summary>The names of all the PostgreSQL collections, this one's and the others'.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        Name, PostgresKeysCollection.Name, PostgresSalesCollection.Name, PostgresMembershipCollection.Name, PostgresClusterCollection.Name,
    };
}

/// <summary>Idempotency keys, forwards, duplicate activations and escrow (grants, drains) on PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresKeysCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "postgres: keys and forwards";
}

/// <summary>Selling, sell-out, reservations, gathering and the export on PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresSalesCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "postgres: sales";
}

/// <summary>The membership table and silos that die, on PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresMembershipCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "postgres: membership and silo failures";
}

/// <summary>Clusters of several silos, and databases that fail under them, on PostgreSQL.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresClusterCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "postgres: clusters and database failures";
}
