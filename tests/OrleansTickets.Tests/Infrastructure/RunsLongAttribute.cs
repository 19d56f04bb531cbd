namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Marks a test class that takes half a minute or more on 2 cores (its tests wait out time-outs and ticks), so that
/// <see cref="LongCollectionsFirst"/> starts it early instead of leaving it to run alone at the end.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RunsLongAttribute : Attribute;
