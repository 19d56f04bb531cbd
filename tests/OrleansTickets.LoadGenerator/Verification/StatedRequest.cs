using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// The request a buyer states, for a client that cannot pair an answer with the request it answers:
/// <c>scripts/wrk/buyers.lua</c> names request N of thread T's buyer "Wrk Buyer T-N asks for QUANTITY TYPE", with the
/// address "wrk-T-N@example.test". The service stores the buyer with the order and echoes it, so the answer itself
/// carries what was asked, and which request asked it.
/// </summary>
public static partial class StatedRequest
{
    /// <summary>
    /// What <paramref name="buyer"/> says was asked for, or null when it states nothing, or when its name and address
    /// name different requests (a buyer put together from two).
    /// </summary>
    public static OrderRequested? From(OrderBuyer? buyer)
    {
        if (buyer is null) return null;
        var match = WrkBuyer().Match(buyer.Name);
        if (!match.Success || !int.TryParse(match.Groups["quantity"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var quantity))
        {
            return null;
        }
        var request = match.Groups["request"].Value;
        return buyer.Email == $"wrk-{request}@example.test"
            ? new OrderRequested(match.Groups["type"].Value, quantity, buyer.Name, buyer.Email, request)
            : null;
    }

    [GeneratedRegex(@"\AWrk Buyer (?<request>[0-9]{1,9}-[0-9]{1,18}) asks for (?<quantity>[0-9]{1,9}) (?<type>\S+)\z", RegexOptions.CultureInvariant)]
    private static partial Regex WrkBuyer();
}
