using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Keeps every warning and error a host logs (or every line from <paramref name="minimum"/> up), for a test that must
/// see the host say something (or not) rather than infer it from timing.
/// </summary>
public sealed class WarningCollector(LogLevel minimum = LogLevel.Warning) : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IEnumerable<string> Lines => _lines;

    /// <summary>Whether a line logged so far contains <paramref name="text"/>.</summary>
    public bool Saw(string text) => _lines.Any(line => line.Contains(text, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        // The exception's message too: a generated log message leaves it out, and a test may need to see the cause.
        if (IsEnabled(logLevel)) _lines.Enqueue(exception is null ? formatter(state, exception) : $"{formatter(state, exception)} ({exception.Message})");
    }

    public void Dispose()
    {
    }
}
