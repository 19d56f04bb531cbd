namespace OrleansTickets.Catalog;

/// <summary>Names of the Orleans grain-storage providers this project registers.</summary>
public static class StorageNames
{
    /// <summary>Orleans ADO.NET grain storage for small catalog state: events, the shard-database allocator.</summary>
    public const string Catalog = "catalog";
}
