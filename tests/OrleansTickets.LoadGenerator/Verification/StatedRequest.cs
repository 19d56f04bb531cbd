using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// The request a buyer's name states, for clients that cannot pair an answer with the request it answers:
/// <c>scripts/wrk/buyers.lua</c> names each buyer "… asks for QUANTITY TYPE", and the service stores and echoes the
/// buyer with the order, so the answer itself carries what was asked.
/// </summary>
public static partial class StatedRequest
{
    /// <summary>What <paramref name="buyer"/>'s name says was asked for, or null when it states nothing.</summary>
    public static OrderRequested? From(OrderBuyer? buyer)
    {
        if (buyer is null) return null;
        var match = AsksFor().Match(buyer.Name);
        if (!match.Success || !int.TryParse(match.Groups["quantity"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var quantity))
        {
            return null;
        }
        return new OrderRequested(match.Groups["type"].Value, quantity, buyer.Name, buyer.Email);
    }

    [GeneratedRegex(@" asks for (?<quantity>[0-9]{1,9}) (?<type>\S+)\z", RegexOptions.CultureInvariant)]
    private static partial Regex AsksFor();
}
