using OrleansTickets.Events;

namespace OrleansTickets.Tests.Http;

public sealed class CanonicalNumberTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("7", 7)]
    [InlineData("10", 10)]
    [InlineData("2147483647", int.MaxValue)]
    public void The_spelling_the_service_writes_is_read(string text, int expected)
    {
        Assert.True(CanonicalNumber.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("01")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("\u0663")] // ARABIC-INDIC DIGIT THREE: a digit, but not one the service writes
    [InlineData("2147483648")]
    public void Any_other_spelling_is_refused(string text)
    {
        Assert.False(CanonicalNumber.TryParse(text, out _));
    }
}
