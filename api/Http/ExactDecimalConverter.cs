using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansTickets.Api.Http;

/// <summary>
/// Reads a JSON number into a <see cref="decimal"/> only when the decimal holds it exactly. System.Text.Json rounds a
/// number with more digits than a decimal has (28 or so) and turns one below 1e-28 into 0, so a price with thirty
/// decimals would pass every later check as its rounded value and be stored as something the client never sent.
/// </summary>
public sealed class ExactDecimalConverter : JsonConverter<decimal>
{
    private const int MaxDigits = 28;

    /// <inheritdoc />
    public override decimal Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDecimal(out var value))
        {
            throw new BodyRuleException("Expected a number that fits a decimal.");
        }
        var raw = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan;
        return IsExact(raw) ? value : throw new BodyRuleException($"The number has more than {MaxDigits} significant digits or decimal places.");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, decimal value, JsonSerializerOptions options) => writer.WriteNumberValue(value);

    /// <summary>
    /// True when the number's significant digits and decimal places, both counted without the zeros that do not
    /// change its value, fit a decimal. <paramref name="number"/> is a JSON number the reader has already checked.
    /// </summary>
    private static bool IsExact(ReadOnlySpan<byte> number)
    {
        var index = number.Length > 0 && number[0] == '-' ? 1 : 0;
        var digits = 0;
        var firstNonZero = -1;
        var lastNonZero = -1;
        var fractionDigits = 0;
        var inFraction = false;
        for (; index < number.Length && number[index] is not ((byte)'e' or (byte)'E'); index++)
        {
            if (number[index] == '.')
            {
                inFraction = true;
                continue;
            }
            if (number[index] != '0')
            {
                if (firstNonZero < 0) firstNonZero = digits;
                lastNonZero = digits;
            }
            digits++;
            if (inFraction) fractionDigits++;
        }
        if (firstNonZero < 0) return true;
        var exponent = 0L;
        if (index < number.Length)
        {
            index++;
            var negative = number[index] == '-';
            if (number[index] is (byte)'-' or (byte)'+') index++;
            for (; index < number.Length; index++) exponent = Math.Min(exponent * 10 + (number[index] - '0'), 1_000_000);
            if (negative) exponent = -exponent;
        }
        var significant = lastNonZero - firstNonZero + 1;
        // Decimal places once the trailing zeros are gone: the fraction's digits up to the last non-zero one, less the exponent.
        var places = fractionDigits - (digits - 1 - lastNonZero) - exponent;
        return significant <= MaxDigits && places <= MaxDigits;
    }
}
