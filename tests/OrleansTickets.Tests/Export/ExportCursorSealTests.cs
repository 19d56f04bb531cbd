using System.Collections.Immutable;
using OrleansTickets.Export;
using OrleansTickets.Tickets;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Export;

/// <summary>
/// The export's cursors are read back only as a page of the same event over the same databases wrote them: any other
/// text would pass over orders as silently as a walk that missed them.
/// </summary>
public sealed class ExportCursorSealTests
{
    private static readonly ImmutableArray<int> Databases = [.. Enumerable.Range(0, 550)];

    private static ExportCursorSeal Seal(string key = "") =>
        new(new TicketCodeSigner(Convert.FromBase64String(TestStorage.SigningKey)).DeriveKey("export-cursor" + key));

    private static ExportCursor StoryCursor()
    {
        // One server's transaction ids, a few apart from one database to the next, as a round leaves them.
        var marks = Enumerable.Range(0, Databases.Length).Select(i => 4_000_000_000L + i * 3 - (i % 7)).ToImmutableArray();
        var lastGiven = Enumerable.Range(0, Databases.Length).Select(i => (ushort)(1 + i * 97 % 65_000)).ToImmutableArray();
        return new ExportCursor(Current: 321, marks, Key: "AZ1x-_key", lastGiven);
    }

    [Fact]
    public void A_cursor_over_the_story_s_550_databases_reads_back_whole_and_fits_in_a_request_line()
    {
        var cursor = StoryCursor();

        var text = Seal().Write("festival", Databases, cursor);
        var read = Seal().Read("festival", Databases, text);

        Assert.NotNull(read);
        Assert.Equal((cursor.Current, cursor.Key), (read.Current, read.Key));
        Assert.Equal(cursor.Marks.ToArray(), read.Marks.ToArray());
        Assert.Equal(cursor.LastGiven.ToArray(), read.LastGiven.ToArray());
        // Kestrel refuses request lines over 8 KB: the cursor must leave room for the rest of the URL.
        Assert.True(text.Length < 3_200, $"The cursor is {text.Length} characters.");
    }

    [Fact]
    public void A_cursor_over_550_databases_on_two_servers_half_walked_still_fits_in_a_request_line()
    {
        // The worst spread a deployment here makes: neighbouring databases on servers whose transaction ids lie far apart,
        // and, in a first walk, databases read next to databases not read yet (mark 0).
        var marks = Enumerable.Range(0, Databases.Length)
            .Select(i => i > 400 ? 0L : i % 2 == 0 ? 4_000_000_000L + i : 1_000_000L + i).ToImmutableArray();
        var cursor = new ExportCursor(Current: 400, marks, Key: "AZ1x-_key", [.. marks.Select(mark => mark == 0 ? (ushort)0 : (ushort)(mark % 65_000 + 1))]);

        var text = Seal().Write("festival", Databases, cursor);

        var read = Seal().Read("festival", Databases, text)!;
        Assert.Equal(marks.ToArray(), read.Marks.ToArray());
        Assert.Equal(cursor.LastGiven.ToArray(), read.LastGiven.ToArray());
        Assert.True(text.Length < 5_200, $"The cursor is {text.Length} characters.");
    }

    [Fact]
    public void A_cursor_is_refused_for_another_event_other_databases_another_key_or_any_changed_character()
    {
        var text = Seal().Write("festival", Databases, StoryCursor());

        Assert.Null(Seal().Read("festival-2", Databases, text));
        Assert.Null(Seal().Read("festival", [.. Databases.Take(549)], text));
        Assert.Null(Seal().Read("festival", [.. Databases.Select(d => d == 7 ? 550 : d)], text));
        Assert.Null(Seal("other").Read("festival", Databases, text));
        Assert.Null(Seal().Read("festival", Databases, text + "="));
        Assert.Null(Seal().Read("festival", Databases, text[..^1]));
        Assert.Null(Seal().Read("festival", Databases, ""));
        Assert.Null(Seal().Read("festival", Databases, "not base64!"));
        Assert.Null(Seal().Read("festival", Databases, new string('A', ExportCursorSeal.MaxTextLength + 1)));
        for (var i = 0; i < text.Length; i += 37)
        {
            var changed = text[..i] + (text[i] == 'A' ? 'B' : 'A') + text[(i + 1)..];
            Assert.Null(Seal().Read("festival", Databases, changed));
        }
    }

    [Fact]
    public void A_start_cursor_reads_back_as_the_start()
    {
        var read = Seal().Read("festival", [3, 9], Seal().Write("festival", [3, 9], ExportCursor.Start(2)));

        Assert.NotNull(read);
        Assert.Equal((0, ""), (read.Current, read.Key));
        Assert.Equal([0L, 0L], read.Marks.ToArray());
        Assert.Equal([(ushort)0, (ushort)0], read.LastGiven.ToArray());
    }
}
