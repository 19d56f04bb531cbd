namespace OrleansTickets.Inventory;

/// <summary>A run of consecutive ticket serials: <c>First .. First + Count - 1</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record SerialSegment(long First, long Count)
{
    /// <summary>One past the last serial.</summary>
    public long End => First + Count;
}
