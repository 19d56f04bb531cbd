namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>One row of the verification table.</summary>
/// <param name="Passed">The verdict.</param>
/// <param name="Name">One of <see cref="VerificationCheckNames"/>.</param>
/// <param name="Scope">The ticket type id, or <see cref="VerificationCheck.WholeEvent"/>.</param>
/// <param name="Detail">The numbers behind the verdict, so a failure can be investigated without rerunning.</param>
public sealed record VerificationCheck(string Name, string Scope, bool Passed, string Detail)
{
    public const string WholeEvent = "*";
}
