using System.Collections.Immutable;

namespace OrleansTickets.Inventory;

/// <summary>
/// The serials a shard may sell, in selling order. Sold serials are always a prefix: the n-th ticket the shard
/// ever sells is the serial at offset n. Gifts are cut from the end and transfers taken in are appended, so
/// neither ever touches a sold serial.
/// </summary>
public sealed class ShardInventory
{
    private readonly List<SerialSegment> _segments;

    public ShardInventory(IEnumerable<SerialSegment> segments)
    {
        _segments = [.. segments.Where(s => s.Count > 0)];
        Capacity = _segments.Sum(s => s.Count);
    }

    /// <summary>Serials in the inventory, sold or not. Kept as a field: every sale reads it.</summary>
    public long Capacity { get; private set; }

    public IReadOnlyList<SerialSegment> Segments => _segments;

    public ShardInventory Copy() => new(_segments);

    /// <summary>The serials at offsets <paramref name="offset"/> .. offset + count - 1.</summary>
    public ImmutableArray<SerialSegment> Slice(long offset, long count)
    {
        var result = ImmutableArray.CreateBuilder<SerialSegment>();
        foreach (var segment in _segments)
        {
            if (count == 0) break;
            if (offset >= segment.Count)
            {
                offset -= segment.Count;
                continue;
            }
            var take = Math.Min(segment.Count - offset, count);
            result.Add(new SerialSegment(segment.First + offset, take));
            count -= take;
            offset = 0;
        }
        if (count > 0) throw new InvalidOperationException("Slice runs past the inventory.");
        return result.ToImmutable();
    }

    /// <summary>Removes the last <paramref name="count"/> serials and returns them, in order.</summary>
    public ImmutableArray<SerialSegment> CutTail(long count)
    {
        var cut = new List<SerialSegment>();
        while (count > 0)
        {
            var last = _segments[^1];
            var take = Math.Min(last.Count, count);
            cut.Add(new SerialSegment(last.End - take, take));
            if (take == last.Count) _segments.RemoveAt(_segments.Count - 1);
            else _segments[^1] = last with { Count = last.Count - take };
            count -= take;
            Capacity -= take;
        }
        cut.Reverse();
        return [.. cut];
    }

    public void Append(IEnumerable<SerialSegment> segments)
    {
        foreach (var segment in segments.Where(s => s.Count > 0))
        {
            _segments.Add(segment);
            Capacity += segment.Count;
        }
    }
}
