using System.Collections.Immutable;
using System.Globalization;
using OrleansTickets.Events;
using OrleansTickets.Orders;

namespace OrleansTickets.Export;

/// <summary>
/// Where the next page of an event's orders starts: after order <paramref name="AfterOrderId"/>, which shard database
/// <paramref name="Ordinal"/> holds. Written as <c>ordinal.orderId</c>; a page's cursor always names the last order it
/// read. The whole id, not only its key, so that a cursor can be checked against the event it is used with.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ExportCursor(int Ordinal, string AfterOrderId)
{
    private const int MaxOrdinalDigits = 6;

    /// <summary>The key, in its database, after which the page starts.</summary>
    public string AfterKey => OrderId.KeyOf(AfterOrderId);

    /// <summary>The cursor's text, as a page's <c>next</c> gives it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ordinal}.{AfterOrderId}");

    /// <summary>Reads a cursor from its text; false for anything without a cursor's shape.</summary>
    public static bool TryParse(string? text, out ExportCursor? cursor)
    {
        cursor = null;
        if (text is null) return false;
        var dot = text.IndexOf('.');
        if (dot is < 1 or > MaxOrdinalDigits) return false;
        var digits = text.AsSpan(0, dot);
        var orderId = text[(dot + 1)..];
        // One spelling, the one a page gives: a database number with a leading zero leads to the same place, but no page
        // wrote it, and every cursor no page gave is refused. (The order id is checked whole against the stored order.)
        if (!CanonicalNumber.TryParse(digits, out var ordinal) || !OrderId.TryGetShard(orderId, out _)) return false;
        cursor = new ExportCursor(ordinal, orderId);
        return true;
    }

    /// <summary>
    /// Whether a page of <paramref name="definition"/>'s export could have given this cursor: its order is of this
    /// event, of a shard it has, and <see cref="Ordinal"/> is that shard's database. Anything else (another event's
    /// cursor, a database number made up) would skip orders silently and end the walk as if it were complete.
    /// </summary>
    /// <param name="definition">The event being exported.</param>
    /// <param name="databases">The event's shard databases, in its flattened shard order.</param>
    public bool IsOf(EventDefinition definition, ImmutableArray<int> databases)
    {
        if (!OrderId.TryGetShard(AfterOrderId, out var shard) || shard.EventId != definition.Id) return false;
        var type = definition.FindTicketType(shard.TicketTypeId);
        if (type is null || shard.Index >= type.Shards) return false;
        var flat = definition.FirstFlatIndexOf(type.Id) + shard.Index;
        return flat < databases.Length && databases[flat] == Ordinal;
    }
}
