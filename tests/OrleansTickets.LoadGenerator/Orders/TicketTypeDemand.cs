using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Options;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// Which ticket types buyers still want and how much: a weighted choice among the types not yet seen sold out.
/// Shared by all buyers, so one buyer's sold-out answer spares the others from asking again.
/// </summary>
public sealed class TicketTypeDemand
{
    private readonly TicketTypeInfo[] _types;
    private readonly long[] _weights;
    // Stopwatch timestamps of the first sold-out answer per type, 0 while the type still sells. Beyond marking a type
    // as gone, they say which types held up the end of a sale.
    private readonly long[] _soldOutAt;

    private TicketTypeDemand(TicketTypeInfo[] types, long[] weights)
    {
        _types = types;
        _weights = weights;
        _soldOutAt = new long[types.Length];
    }

    public IReadOnlyList<TicketTypeInfo> Types => _types;

    public long WeightOf(int index) => _weights[index];

    /// <summary>
    /// Weights from <c>--weights</c>, or each type's capacity. Every type needs a positive weight: one that is never
    /// bought never sells out, and the run would only end at its timeout.
    /// </summary>
    public static TicketTypeDemand Create(IReadOnlyList<TicketTypeInfo> types, IReadOnlyDictionary<string, int>? weights)
    {
        if (types.Count == 0) throw new UsageException("the event has no ticket types");
        if (weights is not null)
        {
            var unknown = weights.Keys.Where(id => types.All(t => t.Id != id)).ToList();
            if (unknown.Count > 0) throw new UsageException($"--weights names unknown ticket types: {string.Join(", ", unknown)}");
            var missing = types.Where(t => !weights.ContainsKey(t.Id)).Select(t => t.Id).ToList();
            if (missing.Count > 0) throw new UsageException($"--weights must give every ticket type a weight; missing: {string.Join(", ", missing)}");
        }
        return new TicketTypeDemand(types.ToArray(), types.Select(t => weights?[t.Id] ?? t.Capacity ?? throw new InvalidOperationException($"ticket type '{t.Id}' has no count to weigh it by")).ToArray());
    }

    public bool AllSoldOut => Enumerable.Range(0, _types.Length).All(IsSoldOut);

    public bool IsSoldOut(string ticketTypeId) => IsSoldOut(IndexOf(ticketTypeId));

    public void MarkSoldOut(string ticketTypeId) =>
        Interlocked.CompareExchange(ref _soldOutAt[IndexOf(ticketTypeId)], Stopwatch.GetTimestamp(), 0);

    /// <summary>
    /// Seconds from <paramref name="startedAt"/> (a <see cref="Stopwatch"/> timestamp) to the first sold-out answer for
    /// each type, earliest first; types never seen sold out are left out.
    /// </summary>
    public IReadOnlyList<TypeSoldOut> SoldOutTimes(long startedAt) =>
        Enumerable.Range(0, _types.Length)
            .Select(i => (Type: _types[i].Id, At: Volatile.Read(ref _soldOutAt[i])))
            .Where(t => t.At != 0)
            .Select(t => new TypeSoldOut(t.Type, Stopwatch.GetElapsedTime(startedAt, t.At).TotalSeconds))
            .OrderBy(t => t.Seconds)
            .ToList();

    /// <summary>A type chosen with probability proportional to its weight among those still selling; false when none is.</summary>
    public bool TryPick(Random random, [NotNullWhen(true)] out TicketTypeInfo? type)
    {
        long total = 0;
        for (var i = 0; i < _types.Length; i++)
        {
            if (!IsSoldOut(i)) total += _weights[i];
        }
        if (total > 0)
        {
            var point = random.NextInt64(total);
            for (var i = 0; i < _types.Length; i++)
            {
                if (IsSoldOut(i)) continue;
                point -= _weights[i];
                if (point < 0)
                {
                    type = _types[i];
                    return true;
                }
            }
        }
        // Also reached when a type sold out between the two loops; the caller simply asks again.
        // One read per type: the last type may be marked sold out between a check and a second look.
        type = _types.FirstOrDefault(t => !IsSoldOut(t.Id));
        return type is not null;
    }

    private bool IsSoldOut(int index) => Volatile.Read(ref _soldOutAt[index]) != 0;

    private int IndexOf(string ticketTypeId) => Array.FindIndex(_types, t => t.Id == ticketTypeId) is var index and >= 0
        ? index
        : throw new ArgumentException($"unknown ticket type '{ticketTypeId}'", nameof(ticketTypeId));
}
