using System.Diagnostics.Metrics;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A meter listener that throws from every measurement of the instruments it picks, as a broken exporter would: for
/// tests that the work measured is not failed by it. Pick by the meter's scope, so that other tests running in this
/// process meet nothing.
/// </summary>
public sealed class BrokenMeterListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private int _thrown;

    /// <summary>Starts listening to every instrument that <paramref name="picks"/> accepts.</summary>
    public BrokenMeterListener(Func<Instrument, bool> picks)
    {
        _listener.InstrumentPublished = (instrument, subscriber) =>
        {
            if (picks(instrument)) subscriber.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, _, _, _) => Throw());
        _listener.SetMeasurementEventCallback<int>((_, _, _, _) => Throw());
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Throw());
        _listener.Start();
    }

    /// <summary>How many measurements it threw from: a test asserts more than none, or it proves nothing.</summary>
    public int Thrown => Volatile.Read(ref _thrown);

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Throw()
    {
        Interlocked.Increment(ref _thrown);
        throw new InvalidOperationException("a broken exporter");
    }
}
