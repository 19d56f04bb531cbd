using System.Reflection;
using Xunit.Sdk;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A theory's PostgreSQL row (the engine name <see cref="Engines.Postgres"/>), beside its
/// <c>[InlineData(Engines.Sqlite)]</c> row: reported as skipped when PostgreSQL is not installed, except on CI
/// (<c>CI=true</c>), where it runs and fails.
/// </summary>
/// <remarks>
/// xunit 2 skips a theory's rows by data attribute, not by row, so the engines are two attributes. A row dropped from
/// the theory's data instead would leave no trace in the results of a machine without PostgreSQL.
/// </remarks>
[DataDiscoverer("Xunit.Sdk.DataDiscoverer", "xunit.core")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class PostgresRowAttribute : DataAttribute
{
    /// <summary>Sets <see cref="DataAttribute.Skip"/> when PostgreSQL is missing outside CI.</summary>
    public PostgresRowAttribute() => Skip = PostgresFactAttribute.SkipReason;

    /// <inheritdoc />
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[Engines.Postgres]];
}
