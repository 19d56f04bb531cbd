using System.Data.Common;

namespace OrleansTickets.Storage;

/// <summary>One parameterised statement, kept as data so a group commit can send many in one round trip.</summary>
internal sealed class SqlStatement(string sql)
{
    // Names and values apart, in the order they were added: the names alone are what a positional form is checked against.
    private readonly List<string> _names = [];
    private readonly List<object> _values = [];

    public string Sql { get; } = sql;

    public SqlStatement With(string name, object value)
    {
        _names.Add(name);
        _values.Add(value);
        return this;
    }

    public void ApplyTo(DbParameterCollection target, Func<DbParameter> create) => ApplyTo(target, create, named: true);

    // Unnamed parameters are bound by position, for a text whose placeholders are numbered (PositionalTexts).
    private void ApplyTo(DbParameterCollection target, Func<DbParameter> create, bool named)
    {
        for (var i = 0; i < _names.Count; i++)
        {
            var parameter = create();
            if (named) parameter.ParameterName = _names[i];
            parameter.Value = _values[i];
            target.Add(parameter);
        }
    }

    /// <summary>
    /// The statement as a command with positional placeholders (see <see cref="PositionalTexts"/>): only for a text held
    /// for the life of the process, on a driver that numbers placeholders <c>$1</c>, <c>$2</c>, … (Npgsql).
    /// </summary>
    public DbCommand ToPositionalCommand(DbConnection connection, DbTransaction? transaction) =>
        ToCommand(connection, transaction, PositionalTexts.For(Sql, _names), named: false);

    public DbCommand ToCommand(DbConnection connection, DbTransaction? transaction) => ToCommand(connection, transaction, Sql, named: true);

    private DbCommand ToCommand(DbConnection connection, DbTransaction? transaction, string text, bool named)
    {
        var command = connection.CreateCommand();
        command.CommandText = text;
        command.Transaction = transaction;
        ApplyTo(command.Parameters, command.CreateParameter, named);
        return command;
    }

    /// <summary>The statements as one <see cref="DbBatch"/>, in order (only where <see cref="DbConnection.CanCreateBatch"/>).</summary>
    public static DbBatch ToBatch(DbConnection connection, DbTransaction? transaction, IEnumerable<SqlStatement> statements)
    {
        var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        foreach (var statement in statements)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = statement.Sql;
            statement.ApplyTo(command.Parameters, command.CreateParameter);
            batch.BatchCommands.Add(command);
        }
        return batch;
    }

    /// <summary>
    /// Runs the statements in order inside <paramref name="transaction"/> and returns each one's affected row count.
    /// Drivers that support <see cref="DbBatch"/> (Npgsql, SqlClient) get one round trip for all of them.
    /// </summary>
    public static async Task<int[]> ExecuteAllAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
    {
        var affected = new int[statements.Count];
        if (statements.Count == 0) return affected;
        if (connection.CanCreateBatch)
        {
            await using var batch = ToBatch(connection, transaction, statements);
            await batch.ExecuteNonQueryAsync(cancellationToken);
            for (var i = 0; i < statements.Count; i++) affected[i] = batch.BatchCommands[i].RecordsAffected;
            return affected;
        }
        for (var i = 0; i < statements.Count; i++)
        {
            await using var command = statements[i].ToCommand(connection, transaction);
            affected[i] = await command.ExecuteNonQueryAsync(cancellationToken);
        }
        return affected;
    }
}
