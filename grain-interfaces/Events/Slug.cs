namespace OrleansTickets.Events;

/// <summary>Ids of events and ticket types: 1 to 64 of <c>[a-z0-9-]</c>.</summary>
public static class Slug
{
    /// <summary>Longest allowed slug.</summary>
    public const int MaxLength = 64;

    /// <summary>The rule in words, for error messages.</summary>
    public const string Rule = "1 to 64 of a-z, 0-9 and '-'";

    /// <summary>True when <paramref name="value"/> is a valid slug.</summary>
    public static bool IsValid(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxLength) return false;
        foreach (var c in value)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '-')) return false;
        }
        return true;
    }
}
