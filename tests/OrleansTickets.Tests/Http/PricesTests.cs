using System.Globalization;
using OrleansTickets.Events;

namespace OrleansTickets.Tests.Http;

/// <summary>How prices are written: the currency's own decimals, and never a digit lost.</summary>
public sealed class PricesTests
{
    [Theory]
    [InlineData("EUR", true)]
    [InlineData("VED", true)]
    [InlineData("XCG", true)]
    // Withdrawn in 2025, replaced by the Caribbean guilder (XCG); and codes not written in capitals, or not ISO's.
    [InlineData("ANG", false)]
    [InlineData("eur", false)]
    [InlineData("EURO", false)]
    [InlineData("XXX", false)]
    public void Currencies_are_the_active_ISO_4217_codes(string code, bool active) =>
        Assert.Equal(active, OrleansTickets.Api.Events.Currencies.IsIso4217(code));

    [Theory]
    [InlineData("10.5", "EUR", "10.50")]
    [InlineData("10", "EUR", "10.00")]
    [InlineData("10.500", "EUR", "10.50")]
    [InlineData("1500.00", "JPY", "1500")]
    [InlineData("1.5", "BHD", "1.500")]
    [InlineData("0", "KRW", "0")]
    // Events stored before zero-decimal currencies refused fractions keep the price their orders were sold at.
    [InlineData("1500.50", "JPY", "1500.50")]
    // The same legacy price read back from whole cents, where the division drops the trailing zero.
    [InlineData("1500.5", "JPY", "1500.50")]
    public void Canonical_writes_the_currency_s_decimals_and_drops_only_zeros(string amount, string currency, string written)
    {
        var price = decimal.Parse(amount, CultureInfo.InvariantCulture);
        var canonical = Prices.Canonical(price, currency);
        Assert.Equal(price, canonical);
        Assert.Equal(written, canonical.ToString(CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("EUR", 2, 2)]
    [InlineData("JPY", 0, 0)]
    [InlineData("BHD", 3, 2)]
    public void A_price_takes_at_most_the_currency_s_decimals_and_two(string currency, int minorUnits, int accepted)
    {
        Assert.Equal(minorUnits, Prices.MinorUnits(currency));
        Assert.Equal(accepted, Prices.AcceptedDecimals(currency));
    }
}
