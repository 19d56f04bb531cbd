namespace OrleansTickets.Silo.Rehearsal;

/// <summary>
/// Services added to the rehearsal's private copy before its own. Nothing in the service registers it: tests do, to
/// give the copy a part that misbehaves (one that never stops, say) and see the real silo open all the same.
/// </summary>
internal sealed class RehearsalCopyParts(Action<IServiceCollection> add)
{
    public void AddTo(IServiceCollection services) => add(services);
}
