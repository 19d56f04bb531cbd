namespace OrleansTickets.LoadGenerator.Http;

/// <summary>The members of a 409 problem body the generator acts on: a sold-out's <c>remaining</c>, or a tickets-scattered's <c>largestOrder</c>.</summary>
public sealed record SoldOutProblem(string? Type, long? Remaining = null, long? LargestOrder = null);
