using System.Collections.Immutable;

namespace OrleansTickets.Export;

/// <summary>
/// Where a walk of an event's export stands in each of its shard databases (in ordinal order): every order saved
/// below <see cref="Marks"/>[i] in database i has been given, and the next page starts in database
/// <see cref="Current"/>, where the orders with its mark and a key up to <see cref="Key"/> have been given too. Only
/// the database a page ended in can stop within a mark: a page leaves every other one at its save horizon.
/// <see cref="LastGiven"/>[i] names the last order given from database i (<see cref="SavePosition.WitnessOf"/>).
/// </summary>
internal sealed record ExportCursor(int Current, ImmutableArray<long> Marks, string Key, ImmutableArray<ushort> LastGiven)
{
    /// <summary>Before every order of an event on <paramref name="databases"/> databases.</summary>
    public static ExportCursor Start(int databases) => new(0, [.. new long[databases]], "", [.. new ushort[databases]]);

    /// <summary>Where database <paramref name="index"/>'s next read starts.</summary>
    public SavePosition PositionIn(int index) => new(Marks[index], index == Current ? Key : "", LastGiven[index]);
}
