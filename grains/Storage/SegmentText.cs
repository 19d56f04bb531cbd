using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using OrleansTickets.Inventory;

namespace OrleansTickets.Storage;

/// <summary>How serial segments are stored in one text column: <c>first+count;first+count</c>.</summary>
/// <remarks>
/// A column, not a child table, so that a shard's capacity and the serials behind it change in the same fenced
/// UPDATE of its one <c>shard_state</c> row. Shards hold a handful of segments (one per transfer they took in).
/// </remarks>
public static class SegmentText
{
    public static string Format(IEnumerable<SerialSegment> segments)
    {
        var text = new StringBuilder();
        foreach (var segment in segments)
        {
            if (segment.Count == 0) continue;
            if (text.Length > 0) text.Append(';');
            text.Append(CultureInfo.InvariantCulture, $"{segment.First}+{segment.Count}");
        }
        return text.ToString();
    }

    public static ImmutableArray<SerialSegment> Parse(string text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var parts = text.Split(';');
        var segments = ImmutableArray.CreateBuilder<SerialSegment>(parts.Length);
        foreach (var part in parts)
        {
            var plus = part.IndexOf('+');
            if (plus <= 0) throw new FormatException($"Bad serial segment '{part}'.");
            segments.Add(new SerialSegment(
                long.Parse(part.AsSpan(0, plus), CultureInfo.InvariantCulture),
                long.Parse(part.AsSpan(plus + 1), CultureInfo.InvariantCulture)));
        }
        return segments.MoveToImmutable();
    }
}
