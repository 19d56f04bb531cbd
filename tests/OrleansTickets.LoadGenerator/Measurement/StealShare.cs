namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Steal over a run: seconds summed over every core, and their share of all the cores' time in that span.</summary>
public sealed record StealShare(double Seconds, double Share);
