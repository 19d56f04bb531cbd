using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace OrleansTickets.Storage;

/// <summary>
/// A write statement prepared once on a writer's connection and run many times, through SQLitePCLRaw (the layer
/// under Microsoft.Data.Sqlite). Microsoft.Data.Sqlite's command path allocates a binder per parameter, looks every
/// parameter up by name, boxes every number and builds a data reader on each execution; on the commit path that
/// was about an eighth of everything the service allocated (docs/benchmarks.md). Here parameter positions are
/// resolved once and values are bound in place.
/// </summary>
/// <remarks>
/// The statement runs inside whatever transaction the connection has open, like any statement on that connection.
/// Errors surface as <see cref="SqliteException"/> (a <see cref="System.Data.Common.DbException"/>), exactly as from
/// a command. Waiting on a locked database is SQLite's own busy handler (<c>PRAGMA busy_timeout</c>).
/// </remarks>
internal sealed class SqlitePreparedStatement : IDisposable
{
    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private readonly int[] _indexes;

    /// <summary>Prepares <paramref name="sql"/>; <paramref name="names"/> fixes the order values are bound in.</summary>
    public SqlitePreparedStatement(SqliteConnection connection, string sql, params string[] names)
    {
        _database = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_database, sql, out _statement), _database);
        _indexes = new int[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            _indexes[i] = raw.sqlite3_bind_parameter_index(_statement, names[i]);
            if (_indexes[i] == 0)
            {
                _statement.Dispose();
                throw new ArgumentException($"'{names[i]}' is not a parameter of: {sql}", nameof(names));
            }
        }
    }

    /// <summary>Binds the value for the parameter named at <paramref name="position"/> in the constructor.</summary>
    public SqlitePreparedStatement Bind(int position, long value)
    {
        Check(raw.sqlite3_bind_int64(_statement, _indexes[position], value));
        return this;
    }

    /// <inheritdoc cref="Bind(int, long)"/>
    public SqlitePreparedStatement Bind(int position, string? value)
    {
        var index = _indexes[position];
        // UTF-16 with an explicit length, as Microsoft.Data.Sqlite binds text: no conversion buffer, and nothing is cut
        // at a NUL. An empty span would reach SQLite as a null pointer, which binds NULL, so "" goes the other way.
        Check(value switch
        {
            null => raw.sqlite3_bind_null(_statement, index),
            "" => raw.sqlite3_bind_text(_statement, index, value),
            _ => raw.sqlite3_bind_text16(_statement, index, value.AsSpan()),
        });
        return this;
    }

    /// <summary>Runs the statement with the values bound since the last run and returns how many rows it changed.</summary>
    public int Execute()
    {
        try
        {
            var result = raw.sqlite3_step(_statement);
            if (result == raw.SQLITE_ROW) throw new InvalidOperationException("A write statement returned rows.");
            if (result != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(result, _database);
            return raw.sqlite3_changes(_database);
        }
        finally
        {
            // Ready for the next run even after a failure: a statement left mid-step would hold its transaction open.
            raw.sqlite3_reset(_statement);
            raw.sqlite3_clear_bindings(_statement);
        }
    }

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(result, _database);
    }

    /// <summary>Finalizes the statement; it must happen before its connection closes.</summary>
    public void Dispose() => _statement.Dispose();
}
