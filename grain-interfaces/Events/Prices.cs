using System.Collections.Frozen;

namespace OrleansTickets.Events;

/// <summary>
/// How a price is written in its currency. Every price the service shows (an event, a fresh order, a replay, an order
/// read back from its shard's database) goes through <see cref="Canonical"/>, so the same order always has the same
/// bytes: a decimal keeps its scale, and <c>10.5</c> and <c>10.50</c> are different JSON.
/// </summary>
public static class Prices
{
    // ISO 4217 minor units; every other active code has 2.
    private static readonly FrozenSet<string> NoMinorUnit =
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".Split(' ').ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> ThreeMinorUnits =
        "BHD IQD JOD KWD LYD OMR TND".Split(' ').ToFrozenSet(StringComparer.Ordinal);

    /// <summary>The digits after the decimal point that <paramref name="currency"/> writes (ISO 4217 minor units).</summary>
    public static int MinorUnits(string currency) =>
        NoMinorUnit.Contains(currency) ? 0 : ThreeMinorUnits.Contains(currency) ? 3 : 2;

    /// <summary>
    /// The most decimals a price may carry: the currency's own, but at most 2, since orders store whole cents in every
    /// engine.
    /// </summary>
    public static int AcceptedDecimals(string currency) => Math.Min(MinorUnits(currency), 2);

    /// <summary>The amount written with exactly the currency's minor units: 10.5 EUR is 10.50, 1500.00 JPY is 1500.</summary>
    /// <remarks>
    /// Only zeros are dropped or added, never a digit: an event stored before zero-decimal currencies refused
    /// fractions (1500.50 JPY) keeps its price, which is what its orders were sold and stored at, and is written with
    /// two decimals however it arrives (1500.5 when read back from whole cents). Rounding lowers a scale above the
    /// currency's; adding a zero of that scale raises one below it.
    /// </remarks>
    public static decimal Canonical(decimal amount, string currency)
    {
        var scale = (byte)MinorUnits(currency);
        var rounded = decimal.Round(amount, scale);
        return rounded == amount ? rounded + new decimal(0, 0, 0, false, scale) : decimal.Round(amount, 2) + 0.00m;
    }
}
