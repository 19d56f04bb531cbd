using System.Collections.Immutable;
using OrleansTickets.Api.Http;
using OrleansTickets.Events;

namespace OrleansTickets.Api.Events;

/// <summary>Turns a <see cref="CreateEventBody"/> into an <see cref="EventDefinition"/>, or per-field errors.</summary>
public static class EventValidator
{
    public const int MaxNameLength = 200;
    public const int MaxTicketTypes = 100;
    public const int MaxCapacity = 10_000_000;
    public const int MaxShards = 4096;
    public const int MaxPerOrderLimit = 100;
    public const decimal MaxPrice = 1_000_000m;

    public static EventDefinition? Validate(CreateEventBody body, Dictionary<string, string[]> errors)
    {
        if (!Slug.IsValid(body.Id)) errors["id"] = [$"Required: {Slug.Rule}."];
        CheckName(body.Name, "name", errors);
        if (body.TicketTypes is not { Count: > 0 } types)
        {
            errors["ticketTypes"] = ["At least one ticket type is required."];
            return null;
        }
        if (types.Count > MaxTicketTypes)
        {
            // Refused as a whole: a 1 MB body holds hundreds of thousands of empty types, and an error for each would
            // make an answer a hundred times the size of the request.
            errors["ticketTypes"] = [$"At most {MaxTicketTypes} ticket types."];
            return null;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var definitions = ImmutableArray.CreateBuilder<TicketTypeDefinition>(types.Count);
        for (var i = 0; i < types.Count; i++)
        {
            var prefix = $"ticketTypes[{i}]";
            if (types[i] is not { } type)
            {
                errors[prefix] = ["Must be an object."];
                continue;
            }
            var definition = ValidateType(type, prefix, errors);
            if (definition is null) continue;
            if (!seen.Add(definition.Id)) errors[prefix + ".id"] = ["Ticket type ids must be unique within the event."];
            definitions.Add(definition);
        }
        // Reading an event asks every shard of every type, so the bound on one type's shards holds for the whole event.
        if (definitions.Sum(definition => definition.Shards) > MaxShards)
        {
            errors["ticketTypes"] = [$"At most {MaxShards} shards in all ticket types together."];
        }
        return errors.Count == 0 ? new EventDefinition(body.Id!, body.Name!.Trim(), definitions.ToImmutable()) : null;
    }

    private static TicketTypeDefinition? ValidateType(TicketTypeBody type, string prefix, Dictionary<string, string[]> errors)
    {
        var before = errors.Count;
        if (!Slug.IsValid(type.Id)) errors[prefix + ".id"] = [$"Required: {Slug.Rule}."];
        CheckName(type.Name, prefix + ".name", errors);
        var currency = Currencies.IsIso4217(type.Currency) ? type.Currency! : null;
        if (currency is null) errors[prefix + ".currency"] = ["Required: an ISO 4217 currency code such as EUR."];
        // Without a known currency the price is only checked against the widest rule (two decimals).
        var decimals = currency is null ? 2 : Prices.AcceptedDecimals(currency);
        if (type.Price is not { } price || price < 0 || price > MaxPrice || decimal.Round(price, decimals) != price)
        {
            errors[prefix + ".price"] = [$"Required: 0 to {MaxPrice}, with at most {decimals} decimal places{(currency is null ? "" : " in " + currency)}."];
        }
        if (type.Capacity is not (>= 1 and <= MaxCapacity)) errors[prefix + ".capacity"] = [$"Required: 1 to {MaxCapacity}."];
        var maxShards = Math.Min(type.Capacity is (>= 1 and <= MaxCapacity) ? type.Capacity.Value : MaxShards, MaxShards);
        if (type.Shards is not { } shards || shards < 1 || shards > maxShards)
        {
            errors[prefix + ".shards"] = [$"Required: 1 to min(capacity, {MaxShards})."];
        }
        if (type.MaxPerOrder is not (>= 1 and <= MaxPerOrderLimit)) errors[prefix + ".maxPerOrder"] = [$"Required: 1 to {MaxPerOrderLimit}."];
        if (errors.Count != before) return null;
        // Stored as sent: readers write it in the currency's own form (Prices.Canonical), events stored earlier included.
        return new TicketTypeDefinition(type.Id!, type.Name!.Trim(), type.Price!.Value, currency!,
            type.Capacity!.Value, type.Shards!.Value, type.MaxPerOrder!.Value);
    }

    private static void CheckName(string? name, string field, Dictionary<string, string[]> errors)
    {
        if (!DisplayText.IsValid(name, MaxNameLength))
        {
            errors[field] = [$"Required: 1 to {MaxNameLength} characters, {DisplayText.Rule}."];
        }
    }
}
