using Microsoft.Extensions.Logging;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// Sends a test cluster's warnings and errors to the test's output, which the runner prints when the test fails: a
/// failure seen only on CI then comes with what the silos said at the time.
/// </summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, LogLevel minimum = LogLevel.Warning) : ILoggerProvider
{
    private LogLevel Minimum { get; } = minimum;

    public ILogger CreateLogger(string categoryName) => new OutputLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        try
        {
            // Clock time, not time since start: each silo has its own provider, and their lines must line up.
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
        }
        catch (InvalidOperationException)
        {
            // The test is over (the cluster logs while it stops); nobody is left to read the line.
        }
    }

    private sealed class OutputLogger(TestOutputLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider.Minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{logLevel} {category}: {formatter(state, exception)}";
            provider.Write(exception is null ? line : $"{line}{Environment.NewLine}{exception}");
        }
    }
}
