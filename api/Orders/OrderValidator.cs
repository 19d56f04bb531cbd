using System.Net.Mail;
using OrleansTickets.Api.Events;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;
using OrleansTickets.Orders;

namespace OrleansTickets.Api.Orders;

/// <summary>Checks an order body before anything reaches a grain (the Idempotency-Key is read by <see cref="Http.IdempotencyKeyHeader"/>).</summary>
public static class OrderValidator
{
    public const int MaxEmailLength = 254;

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
        if (string.IsNullOrWhiteSpace(email)) return false;
        email = email.Trim();
        if (email.Length > MaxEmailLength) return false;
        // A loop over the characters, not LINQ over the string: every purchase checks an address.
        foreach (var c in email)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c)) return false;
        }
        // MailAddress takes any non-ASCII character, so an address gets the names' rule too: no direction overrides,
        // zero-width spaces or other invisible characters that would make two addresses look alike in the export.
        if (!DisplayText.IsValid(email, MaxEmailLength)) return false;
        // MailAddress also accepts display names and comments; requiring it to round-trip to the bare address rules them out.
        return MailAddress.TryCreate(email, out var parsed) && parsed.Address == email && parsed.Host.Contains('.');
    }
}
