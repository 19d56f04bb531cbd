using System.Text.RegularExpressions;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>The query keys a schema script stores in <c>OrleansQuery</c>, read from its text.</summary>
/// <remarks>
/// For dialects no test can run (SQL Server), the text is all there is to check. A key counts only as the first value of
/// a row the script inserts, outside comments: a key named in a comment or in a query's own text is not shipped.
/// </remarks>
public static partial class ScriptQueryKeys
{
    public static IReadOnlyList<string> Of(string script)
    {
        var code = Comment().Replace(script, "");
        return [.. RowKey().Matches(code).Select(match => match.Groups[1].Value).Order(StringComparer.Ordinal)];
    }

    [GeneratedRegex(@"--[^\n]*")]
    private static partial Regex Comment();

    [GeneratedRegex(@"\(\s*N?'(\w+Key)'\s*,")]
    private static partial Regex RowKey();
}
