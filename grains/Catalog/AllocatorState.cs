namespace OrleansTickets.Catalog;

/// <summary>The next shard database ordinal to hand out (before wrapping round).</summary>
[GenerateSerializer]
public sealed class AllocatorState
{
    /// <summary>Count of placements handed out so far.</summary>
    [Id(0)] public long Next { get; set; }
}
