namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>Disposes a run's HTTP clients together.</summary>
public sealed class CompositeDisposable(IEnumerable<IDisposable> items) : IDisposable
{
    public void Dispose()
    {
        foreach (var item in items) item.Dispose();
    }
}
