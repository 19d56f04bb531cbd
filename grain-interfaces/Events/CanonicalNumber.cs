using System.Globalization;

namespace OrleansTickets.Events;

/// <summary>
/// Whole numbers that name something in an address or a cursor (a shard's index, a database's number), in the one
/// spelling the service writes them: ASCII digits, no sign, no leading zero.
/// </summary>
/// <remarks>
/// "01" and "1" would be two names for one shard, and no answer or page of ours ever wrote the first; a client that
/// sends it built the address itself, so it is refused rather than quietly read as the other.
/// </remarks>
public static class CanonicalNumber
{
    /// <summary>
    /// Reads <paramref name="text"/> as such a number; false for anything else, and for a number past <see cref="int.MaxValue"/>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        if (text.IsEmpty || text.ContainsAnyExceptInRange('0', '9') || (text.Length > 1 && text[0] == '0')) return false;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
