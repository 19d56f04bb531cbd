using System.Globalization;
using System.Text;

namespace OrleansTickets.Api.Http;

/// <summary>
/// The rule for names people read (buyers', events', ticket types'): they are stored, exported to the back office and
/// printed on tickets, so they must show as what they say.
/// </summary>
public static class DisplayText
{
    /// <summary>What a refused name is told, after its length limit.</summary>
    public const string Rule = "with at least one visible character, and no control, line-breaking, direction-changing or zero-width-space characters";

    /// <summary>
    /// True when <paramref name="text"/> has 1 to <paramref name="maxLength"/> characters, at least one of them visible,
    /// and none that hides or rearranges what is shown.
    /// </summary>
    /// <remarks>
    /// Refused: control characters (PostgreSQL cannot store a NUL in text, and one such order would fail the whole group
    /// commit it shares with other buyers' orders), line and paragraph separators (a name that breaks a line in the export
    /// or on a ticket), the bidirectional overrides and isolates (a name that reads backwards: "\u202Eevil"), zero-width
    /// spaces and byte-order marks, and code points Unicode has not assigned. The zero-width joiner and non-joiner stay:
    /// names in Persian and other scripts, and emoji sequences, need them.
    /// </remarks>
    public static bool IsValid(string? text, int maxLength)
    {
        if (string.IsNullOrEmpty(text) || text.Length > maxLength) return false;
        var visible = false;
        foreach (var rune in text.EnumerateRunes())
        {
            if (IsHidingOrBreaking(rune)) return false;
            visible |= !Rune.IsWhiteSpace(rune) && Rune.GetUnicodeCategory(rune) != UnicodeCategory.Format;
        }
        return visible;
    }

    private static bool IsHidingOrBreaking(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate
        || rune.Value is (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069) or 0x200B or 0xFEFF or 0x200E or 0x200F or 0x061C;
}
