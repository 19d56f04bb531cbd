namespace OrleansTickets.Events;

/// <summary>A range of ticket serials owned by one shard: <c>First .. First + Size - 1</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record SerialBlock(long First, int Size);
