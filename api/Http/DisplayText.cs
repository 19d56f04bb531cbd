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
    public static readonly string Rule = "with at least one visible character, no control, line-breaking, private-use or invisible " +
        $"formatting characters (a joiner only between two characters), and accents only on a character, at most {MaxMarksInRow} on one";

    /// <summary>
    /// True when <paramref name="text"/> has 1 to <paramref name="maxLength"/> characters once the white space around it
    /// is trimmed (what is stored), at least one of them visible, and none that hides or rearranges what is shown.
    /// </summary>
    /// <remarks>
    /// Refused: control characters (PostgreSQL cannot store a NUL in text, and one such order would fail the whole group
    /// commit it shares with other buyers' orders), line and paragraph separators (a name that breaks a line in the export
    /// or on a ticket), code points Unicode has not assigned, and invisible formatting characters: the bidirectional
    /// overrides and isolates (a name that reads backwards), zero-width spaces, word joiners, byte-order marks, tag
    /// characters other than a flag's region code (they can carry hidden text), variation selectors anywhere but right
    /// after a character they can change, and two formatting characters in a row (the same). Kept, because names need
    /// them: the zero-width joiner and non-joiner (Persian and other scripts, emoji sequences), the left-to-right,
    /// right-to-left and Arabic letter marks (Hebrew and Arabic keyboards insert them, and they only place neutral
    /// characters next to them), the Mongolian vowel separator and the soft hyphen. Refused too: private-use characters,
    /// which mean whatever a font makes of them (a logo on one machine, a box on the next); a combining mark with no
    /// character to mark (first, or after a space), which lands on whatever is shown before the name (the export's
    /// quote, a ticket's label); and more than <see cref="MaxMarksInRow"/> marks on one character, which stack past the
    /// line above and below ("Zalgo" text) where real words stack a few.
    /// </remarks>
    public static bool IsValid(string? text, int maxLength)
    {
        // The limit is on what is stored, as for an email address: a name padded to 201 characters is a 200-character name.
        if (string.IsNullOrEmpty(text) || text.AsSpan().Trim().Length > maxLength) return false;
        var visible = false;
        // Tags spelled so far after a black flag; -1 when the last character was not a flag or one of its tags.
        var flagTags = -1;
        // Whether the character before was one a variation selector may follow (not a mark, selector or format
        // character), and whether it was a format character.
        var afterBase = false;
        var afterFormat = false;
        // Whether a combining mark here would have a character to mark, and how many marks that character has so far.
        var inCluster = false;
        var marksInRow = 0;
        // Whether the character before was a space (at the start, as if it were), and whether the one before was a joiner
        // or the like, which a character that shows must follow.
        var afterSpace = true;
        var joinerWaiting = false;
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse)
            {
                return false;
            }
            // Marks that show nothing on any character: the combining grapheme joiner and Khmer's two inherent vowels
            // (which Unicode says not to use). After a letter they counted as its accents, and "Ada" with one after it
            // was another name that looks the same.
            if (rune.Value is 0x034F or 0x17B4 or 0x17B5) return false;
            if (joinerWaiting && Rune.IsWhiteSpace(rune)) return false;
            joinerWaiting = false;
            if (IsTag(rune))
            {
                // Tags spell a region only right after the black flag (the flags of England, Scotland, Wales): a few
                // digits and small letters, then the cancel tag. Any other tag, or a run of them, is hidden text.
                if (flagTags < 0) return false;
                if (rune.Value == CancelTag)
                {
                    if (flagTags < MinRegionTags) return false;
                    flagTags = -1;
                }
                else if (IsRegionTag(rune) && flagTags < MaxRegionTags) flagTags++;
                else return false;
                continue;
            }
            // A flag's region must end with the cancel tag before anything else comes.
            if (flagTags > 0) return false;
            flagTags = rune.Value == BlackFlag ? 0 : -1;
            // A variation selector picks one form of the character right before it. Anywhere else (after another
            // selector, a mark or a joiner) it shows nothing, and a string of them carries hidden text, a byte each.
            var selector = IsVariationSelector(rune);
            if (selector && !afterBase) return false;
            if (category == UnicodeCategory.Format)
            {
                // One at a time: a joiner, non-joiner or direction mark stands between characters that show, and a run
                // of them would show nothing and could spell hidden bits.
                if (!IsNeededFormat(rune) || afterFormat) return false;
                // A joiner, non-joiner, soft hyphen or vowel separator joins or parts the characters on either side of
                // it: first, last or next to a space it has nothing to join, shows nothing, and would make "Ada" and
                // "Ada" with one after it two different names that look the same.
                if (StandsBetween(rune))
                {
                    if (afterSpace) return false;
                    joinerWaiting = true;
                }
                (afterFormat, afterBase) = (true, false);
                // A joiner stands inside a cluster (Bengali writes ra, joiner, virama, ya to keep the ra whole); the
                // direction marks, the soft hyphen and the vowel separator come between clusters.
                if (rune.Value is not (0x200C or 0x200D)) inCluster = false;
                continue;
            }
            // Combining marks alone show nothing (a variation selector, a grapheme joiner): they need a base to mark. A
            // space has no forms to choose from, so a selector after one is hidden text too (and a leading space would
            // be trimmed away, leaving the selector first).
            var mark = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark;
            var space = Rune.IsWhiteSpace(rune);
            // A spacing mark (a Devanagari vowel sign) takes room of its own, but marks a letter all the same.
            if ((mark || category == UnicodeCategory.SpacingCombiningMark) && !selector)
            {
                if (!inCluster || ++marksInRow > MaxMarksInRow) return false;
            }
            else if (!selector)
            {
                (inCluster, marksInRow) = (!space, 0);
            }
            (afterFormat, afterBase, afterSpace) = (false, !mark && !selector && !space, space);
            visible |= !space && !IsBlankLetter(rune) && !mark;
        }
        return visible && flagTags <= 0 && !joinerWaiting;
    }

    /// <summary>
    /// Combining marks one character may carry: Vietnamese stacks two, pointed Hebrew with its cantillation four or five,
    /// Tibetan's stacked letters (marks too) a few more.
    /// </summary>
    public const int MaxMarksInRow = 10;

    private const int BlackFlag = 0x1F3F4;
    private const int CancelTag = 0xE007F;

    // A region's tags are its subdivision code (CLDR: a two-letter country and one to four more letters or digits; the
    // flags in use spell "gbeng", "gbsct" and "gbwls").
    private const int MinRegionTags = 3;
    private const int MaxRegionTags = 6;

    private static bool IsTag(Rune rune) => rune.Value is >= 0xE0000 and <= 0xE007F;

    private static bool IsRegionTag(Rune rune) => rune.Value is (>= 0xE0030 and <= 0xE0039) or (>= 0xE0061 and <= 0xE007A);

    /// <summary>The variation selectors, and Mongolian's free variation selectors, which do the same for its letters.</summary>
    internal static bool IsVariationSelector(Rune rune) =>
        rune.Value is (>= 0xFE00 and <= 0xFE0F) or (>= 0xE0100 and <= 0xE01EF) or (>= 0x180B and <= 0x180D) or 0x180F;

    // Zero-width non-joiner and joiner; left-to-right, right-to-left and Arabic letter marks; the Mongolian vowel
    // separator, which Mongolian spelling needs; the soft hyphen, which only says where a word may break.
    private static bool IsNeededFormat(Rune rune) => rune.Value is 0x200C or 0x200D or 0x200E or 0x200F or 0x061C or 0x180E or 0x00AD;

    // The needed format characters that stand between two characters (the direction marks may stand anywhere).
    private static bool StandsBetween(Rune rune) => rune.Value is 0x200C or 0x200D or 0x180E or 0x00AD;

    // Letters by category that show nothing: Hangul fillers, and the blank braille pattern.
    private static bool IsBlankLetter(Rune rune) => rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800;
}
