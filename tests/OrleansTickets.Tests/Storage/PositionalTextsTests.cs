using OrleansTickets.Storage;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// The rewrite of named placeholders into positional ones. The group statement itself is run positionally against a
/// real PostgreSQL by <see cref="ShardLedgerTests"/> and every cluster test on that engine.
/// </summary>
public sealed class PositionalTextsTests
{
    [Fact]
    public void Each_name_becomes_its_place_in_the_order_the_parameters_were_added_wherever_it_appears()
    {
        var text = PositionalTexts.Rewrite(
            "SELECT @b_x::integer[], @a::text WHERE @b_x IS NOT NULL AND @a2 > 0", ["@a", "@b_x", "@a2"]);

        Assert.Equal("SELECT $2::integer[], $1::text WHERE $2 IS NOT NULL AND $3 > 0", text);
    }

    [Fact]
    public void A_placeholder_with_no_parameter_is_refused() =>
        Assert.Throws<ArgumentException>(() => PositionalTexts.Rewrite("SELECT @a, @b", ["@a"]));

    [Fact]
    public void A_parameter_the_text_never_names_is_refused() =>
        Assert.Throws<ArgumentException>(() => PositionalTexts.Rewrite("SELECT @a", ["@a", "@b"]));

    [Fact]
    public void A_text_with_quotes_is_refused_since_an_at_sign_in_them_is_no_placeholder() =>
        Assert.Throws<ArgumentException>(() => PositionalTexts.Rewrite("SELECT @a, 'me@example.com'", ["@a"]));

    [Fact]
    public void A_statement_that_adds_its_parameters_in_another_order_than_its_text_was_rewritten_for_fails()
    {
        // A text of its own instance: the rewrites are kept by instance for the life of the process.
        var sql = new string("SELECT @first, @second".AsSpan());
        Assert.Equal("SELECT $1, $2", PositionalTexts.For(sql, ["@first", "@second"]));

        Assert.Equal("SELECT $1, $2", PositionalTexts.For(sql, ["@first", "@second"]));
        Assert.Throws<InvalidOperationException>(() => PositionalTexts.For(sql, ["@second", "@first"]));
        Assert.Throws<InvalidOperationException>(() => PositionalTexts.For(sql, ["@first"]));
    }
}
