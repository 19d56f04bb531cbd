using System.Globalization;

namespace OrleansTickets.Events;

/// <summary>Names one inventory shard: event, ticket type and shard index. Also the shard grain's key.</summary>
[GenerateSerializer, Immutable]
public sealed record ShardAddress(string EventId, string TicketTypeId, int Index)
{
    /// <summary>The grain key and database row key: <c>event/type/index</c>. Slugs never contain '/'.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture, $"{EventId}/{TicketTypeId}/{Index}");

    /// <summary>Parses a key made by <see cref="Key"/>.</summary>
    public static ShardAddress Parse(string key)
    {
        var parts = key.Split('/');
        if (parts.Length != 3 || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            throw new FormatException($"'{key}' is not a shard key.");
        }
        return new ShardAddress(parts[0], parts[1], index);
    }
}
