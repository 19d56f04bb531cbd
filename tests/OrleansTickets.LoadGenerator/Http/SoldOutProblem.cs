namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The members of a 409 problem body the generator acts on.</summary>
public sealed record SoldOutProblem(string? Type, long? Remaining);
