namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A <see cref="FactAttribute"/> for tests that need the private PostgreSQL server: reported as
/// skipped when PostgreSQL is not installed, except on CI (<c>CI=true</c>) where it runs and fails.
/// </summary>
/// <remarks>xunit 2 cannot skip from inside a running test, so the decision is made here, at discovery.</remarks>
public sealed class PostgresFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when PostgreSQL is missing outside CI.</summary>
    public PostgresFactAttribute() => Skip = SkipReason;

    /// <summary>Why a PostgreSQL test is skipped here, or null when it runs.</summary>
    internal static string? SkipReason => !PostgresServer.IsAvailable && !PostgresServer.IsCi
        ? "PostgreSQL 15 is not installed (initdb/pg_ctl/postgres not found; see POSTGRES_BIN_DIR); with CI=true this is a failure."
        : null;
}

/// <summary>The <see cref="TheoryAttribute"/> counterpart of <see cref="PostgresFactAttribute"/>.</summary>
public sealed class PostgresTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when PostgreSQL is missing outside CI.</summary>
    public PostgresTheoryAttribute() => Skip = PostgresFactAttribute.SkipReason;
}
