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
    public const string Rule = "with at least one visible character, and no control, line-breaking or invisible formatting characters";

    /// <summary>
    /// True when <paramref name="text"/> has 1 to <paramref name="maxLength"/> characters, at least one of them visible,
    /// and none that hides or rearranges what is shown.
    /// </summary>
    /// <remarks>
    /// Refused: control characters (PostgreSQL cannot store a NUL in text, and one such order would fail the whole group
    /// commit it shares with other buyers' orders), line and paragraph separators (a name that breaks a line in the export
    /// or on a ticket), code points Unicode has not assigned, and invisible formatting characters: the bidirectional
    /// overrides and isolates (a name that reads backwards), zero-width spaces, word joiners, byte-order marks, tag
    /// characters outside a flag (they can carry hidden text). Kept, because names need them: the zero-width joiner and
    /// non-joiner (Persian and other scripts, emoji sequences), the left-to-right, right-to-left and Arabic letter marks
    /// (Hebrew and Arabic keyboards insert them, and they only place neutral characters next to them), the Mongolian vowel
    /// separator and the soft hyphen.
    /// </remarks>
    public static bool IsValid(string? text, int maxLength)
    {
        if (string.IsNullOrEmpty(text) || text.Length > maxLength) return false;
        var visible = false;
        var inFlag = false;
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate)
            {
                return false;
            }
            // Tag characters spell a region only right after the black flag (the flags of England, Scotland, Wales).
            var isTag = rune.Value is >= 0xE0020 and <= 0xE007F;
            if (isTag && !inFlag) return false;
            inFlag = rune.Value == 0x1F3F4 || (isTag && rune.Value != 0xE007F);
            if (category == UnicodeCategory.Format)
            {
                if (!isTag && !IsNeededFormat(rune)) return false;
                continue;
            }
            // Combining marks alone show nothing (a variation selector, a grapheme joiner): they need a base to mark.
            visible |= !Rune.IsWhiteSpace(rune) && !IsBlankLetter(rune)
                && category is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark);
        }
        return visible;
    }

    // Zero-width non-joiner and joiner; left-to-right, right-to-left and Arabic letter marks; the Mongolian vowel
    // separator, which Mongolian spelling needs; the soft hyphen, which only says where a word may break.
    private static bool IsNeededFormat(Rune rune) => rune.Value is 0x200C or 0x200D or 0x200E or 0x200F or 0x061C or 0x180E or 0x00AD;

    // Letters by category that show nothing: Hangul fillers, and the blank braille pattern.
    private static bool IsBlankLetter(Rune rune) => rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800;
}
