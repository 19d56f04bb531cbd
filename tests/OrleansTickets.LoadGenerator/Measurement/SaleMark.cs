namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Where a sale stood at one moment: seconds since its clock started, orders acknowledged, and the service's CPU time.</summary>
public sealed record SaleMark(double Seconds, long Orders, TimeSpan? ServiceCpu);
