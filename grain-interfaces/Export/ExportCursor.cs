using System.Globalization;

namespace OrleansTickets.Export;

/// <summary>
/// Where the next page of an event's orders starts: after order key <paramref name="AfterKey"/> of shard database
/// <paramref name="Ordinal"/>. Written as <c>ordinal.key</c>; a page's cursor always names the last order it read.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ExportCursor(int Ordinal, string AfterKey)
{
    private const int MaxOrdinalDigits = 6;

    /// <summary>The cursor's text, as a page's <c>next</c> gives it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ordinal}.{AfterKey}");

    /// <summary>Reads a cursor from its text; false for anything a page could not have given.</summary>
    public static bool TryParse(string? text, out ExportCursor? cursor)
    {
        cursor = null;
        if (text is null) return false;
        var dot = text.IndexOf('.');
        if (dot is < 1 or > MaxOrdinalDigits) return false;
        var digits = text.AsSpan(0, dot);
        var key = text.AsSpan(dot + 1);
        if (digits.ContainsAnyExceptInRange('0', '9') || !Orders.OrderId.IsKey(key)) return false;
        cursor = new ExportCursor(int.Parse(digits, CultureInfo.InvariantCulture), key.ToString());
        return true;
    }
}
