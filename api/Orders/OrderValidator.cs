using System.Globalization;
using System.Net.Mail;
using System.Text;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Orders;

/// <summary>Checks an order body before anything reaches a grain (the Idempotency-Key is read by <see cref="Http.IdempotencyKeyHeader"/>).</summary>
public static class OrderValidator
{
    public const int MaxEmailLength = 254;

    // RFC 5321's limits on what a mail server must take: 64 octets before the @, 63 in each label of the domain.
    private const int MaxLocalPartBytes = 64;
    private const int MaxLabelLength = 63;

    public static PurchaseRequest? Validate(
        string eventId, CreateOrderBody body, string? idempotencyKey, Dictionary<string, string[]> errors)
    {
        if (!Slug.IsValid(body.TicketTypeId))
        {
            errors["ticketTypeId"] = [body.TicketTypeId is null ? "Required: a ticket type id." : $"A ticket type id is {Slug.Rule}."];
        }
        if (body.Quantity is not (>= 1 and <= EventValidator.MaxPerOrderLimit))
        {
            errors["quantity"] = [$"Required: 1 to the ticket type's maxPerOrder (at most {EventValidator.MaxPerOrderLimit})."];
        }
        if (body.Buyer is not { } buyer)
        {
            errors["buyer"] = ["Required: an object with name and email."];
        }
        else
        {
            if (!DisplayText.IsValid(buyer.Name, EventValidator.MaxNameLength))
            {
                errors["buyer.name"] = [$"Required: 1 to {EventValidator.MaxNameLength} characters, {DisplayText.Rule}."];
            }
            if (!IsEmail(buyer.Email)) errors["buyer.email"] = ["Required: a valid email address."];
        }
        if (errors.Count > 0) return null;
        return new PurchaseRequest(eventId, body.TicketTypeId!, body.Quantity!.Value,
            new Buyer(body.Buyer!.Name!.Trim(), body.Buyer.Email!.Trim()), idempotencyKey);
    }

    private static bool IsEmail(string? email)
    {
        // The names' rule holds for what was sent, before the spaces around it are trimmed: Trim also takes tabs, line
        // breaks and NEL off the ends, which the rule refuses in a name (and a body that differed only by them replayed
        // the first order as the same one).
        // MailAddress takes any non-ASCII character, so an address gets the names' rule too (no control characters,
        // direction overrides, zero-width spaces): an address the export shows must be the one the buyer can be reached at.
        if (string.IsNullOrWhiteSpace(email) || !DisplayText.IsValid(email, email.Length)) return false;
        email = email.Trim();
        // The rule needs no second pass: what Trim takes off the ends is white space, after which the rule starts afresh
        // as at the start of a text, and which it never counts as visible. Only the length is of the trimmed address.
        if (email.Length > MaxEmailLength) return false;
        for (var i = 0; i < email.Length; i++)
        {
            var c = email[i];
            if (char.IsWhiteSpace(c)) return false;
            // A joiner shapes the letters of scripts that join (a Persian address needs one) and is invisible between
            // ASCII ones, where "ada" and "a\u200Cda" would show alike.
            if (c is '\u200C' or '\u200D' && (i == 0 || i == email.Length - 1 || email[i - 1] < 0x80 || email[i + 1] < 0x80)) return false;
        }
        foreach (var rune in email.EnumerateRunes())
        {
            if (IsHiddenInAddress(rune)) return false;
        }
        // MailAddress also accepts display names and comments; requiring it to round-trip to the bare address rules them out.
        return MailAddress.TryCreate(email, out var parsed) && parsed.Address == email
            && Encoding.UTF8.GetByteCount(parsed.User) <= MaxLocalPartBytes && IsMailHost(parsed.Host);
    }

    /// <summary>
    /// Whether <paramref name="host"/> is a domain name mail can go to: at least two dot-separated labels of 1 to 63
    /// characters, each letters, digits and inner hyphens (past ASCII: letters and digits of any script, with their
    /// marks and joiners), the last not all digits. MailAddress also takes a final dot, an underscore, a hyphen at
    /// either end of a label, an address literal in brackets or a bare IP address, and any character past ASCII: the
    /// ideographic and full-width full stops among them, which a mail client reads as dots, so "example.com。" was
    /// "example.com." with its final dot. No buyer's mailbox looks like any of that.
    /// </summary>
    private static bool IsMailHost(string host)
    {
        var labels = host.Split('.');
        if (labels.Length < 2 || labels[^1].All(char.IsAsciiDigit)) return false;
        foreach (var label in labels)
        {
            if (label.Length is 0 or > MaxLabelLength || label[0] == '-' || label[^1] == '-') return false;
            foreach (var rune in label.EnumerateRunes())
            {
                if (rune.IsAscii ? !(char.IsAsciiLetterOrDigit((char)rune.Value) || rune.Value == '-') : !IsLabelRune(rune)) return false;
            }
        }
        return true;
    }

    // Letters, marks and digits of any script, and the joiners some scripts need (placed by the check above).
    private static bool IsLabelRune(Rune rune) => rune.Value is 0x200C or 0x200D || Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
        or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.DecimalDigitNumber;

    // What names may carry and an address may not: the soft hyphen, the direction marks and the Mongolian vowel
    // separator only place or break what is shown, and the Mongolian variation selectors and the variation selectors
    // only pick a form of the character before them, so in an address they make two addresses look alike. Domain
    // names refuse them too (IDNA2008).
    private static bool IsHiddenInAddress(Rune rune) =>
        rune.Value is 0x00AD or 0x200E or 0x200F or 0x061C or 0x180E || DisplayText.IsVariationSelector(rune);
}
