using System.Collections.Concurrent;
using System.Text;

namespace OrleansTickets.Storage;

/// <summary>
/// Statements written with named placeholders (<c>@name</c>), sent with positional ones (<c>$1</c>, <c>$2</c>, …)
/// numbered in the order their parameters were added, and each text rewritten once per process.
/// </summary>
/// <remarks>
/// <para>
/// Npgsql rewrites a command with named parameters on every execution: it parses the whole text, numbers the names
/// and builds the rewritten text again. For the PostgreSQL group statement (2.5 to 5 kB and 37 to 72 parameters, run
/// at every group commit) that was about 1.3% of the service's CPU in a sale (docs/benchmarks.md, seventy-second
/// session). With positional parameters, which have no names, Npgsql sends the text as it is.
/// </para>
/// <para>
/// Texts are kept by their instance, not their contents, so only a statement whose text is a string held for the
/// life of the process (a constant, a static field) may be sent this way: a text built per call would be rewritten
/// at every call and kept for ever. The names are kept beside each rewritten text and checked at every use (cheaply:
/// they are literals, so each comparison ends at the reference): a statement that adds its parameters in another
/// order, or others, fails there instead of binding a value to the wrong column.
/// </para>
/// </remarks>
internal static class PositionalTexts
{
    private sealed record Rewritten(string[] Names, string Text);

    private static readonly ConcurrentDictionary<string, Rewritten> Texts = new(ReferenceEqualityComparer.Instance);

    /// <summary>The positional form of <paramref name="sql"/> for parameters added in the order of <paramref name="names"/>.</summary>
    public static string For(string sql, IReadOnlyList<string> names)
    {
        var rewritten = Texts.GetOrAdd(sql, static (text, names) => new Rewritten([.. names], Rewrite(text, names)), names);
        if (rewritten.Names.Length != names.Count) throw Mismatch(sql);
        for (var i = 0; i < names.Count; i++)
        {
            if (rewritten.Names[i] != names[i]) throw Mismatch(sql);
        }
        return rewritten.Text;
    }

    /// <summary>
    /// <paramref name="sql"/> with each <c>@name</c> replaced by <c>$n</c>, n the name's place in
    /// <paramref name="names"/> from 1. Every placeholder must be one of <paramref name="names"/>, and every name must
    /// be used: the texts this serves have no string literals or quoted identifiers in which an <c>@</c> could mean
    /// anything else, and a name left over is a parameter the server would be sent without a place for it.
    /// </summary>
    internal static string Rewrite(string sql, IReadOnlyList<string> names)
    {
        var places = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            if (!names[i].StartsWith('@') || !places.TryAdd(names[i], i + 1))
            {
                throw new ArgumentException($"'{names[i]}' is not a placeholder name, or is there twice.", nameof(names));
            }
        }
        var used = new bool[names.Count];
        var text = new StringBuilder(sql.Length);
        var at = 0;
        while (at < sql.Length)
        {
            if (sql[at] is '\'' or '"') throw new ArgumentException("A text with quotes cannot be rewritten safely.", nameof(sql));
            if (sql[at] != '@')
            {
                text.Append(sql[at++]);
                continue;
            }
            var end = at + 1;
            while (end < sql.Length && (char.IsAsciiLetterOrDigit(sql[end]) || sql[end] == '_')) end++;
            var name = sql[at..end];
            if (!places.TryGetValue(name, out var place)) throw new ArgumentException($"'{name}' has no parameter.", nameof(sql));
            used[place - 1] = true;
            text.Append('$').Append(place);
            at = end;
        }
        var unused = Array.IndexOf(used, false);
        if (unused >= 0) throw new ArgumentException($"'{names[unused]}' does not appear in the text.", nameof(names));
        return text.ToString();
    }

    private static InvalidOperationException Mismatch(string sql) =>
        new($"A statement was sent with other parameters than its text was first rewritten for: {sql}");
}
