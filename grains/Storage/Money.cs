namespace OrleansTickets.Storage;

/// <summary>Prices have at most two decimals, so they are stored exactly as whole cents in every engine.</summary>
internal static class Money
{
    public static long ToCents(decimal amount) => checked((long)(amount * 100m));

    public static decimal FromCents(long cents) => cents / 100m;
}
