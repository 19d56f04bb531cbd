using Microsoft.Extensions.Logging;

namespace OrleansTickets.Diagnostics;

/// <summary>
/// A logger whose writes never throw. The logging framework rethrows what its providers throw (a sink whose pipe or
/// socket closed, say), and the code that logs here does so on the way to answering callers: a commit that failed, a
/// fenced shard, a group the database refused. Thrown from there, the log would leave those callers waiting for the
/// call timeout, tickets held for them, and their keys locked.
/// </summary>
internal sealed class NonThrowingLogger(ILogger inner) : ILogger
{
    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull
    {
        try
        {
            return inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // Nothing to do: what was being logged is answered to its callers either way.
        }
    }
}
