namespace OrleansTickets.Tickets;

/// <summary>
/// Builds the ticket signer when the silo starts, so that an unreadable key file stops the start with its reason
/// instead of failing every purchase of a silo that already listens. (A configured key is checked by options
/// validation, before this.) Taking the signer in the constructor is the whole check: the silo resolves its
/// lifecycle participants as it starts.
/// </summary>
internal sealed class SigningKeyCheck(TicketCodeSigner signer) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SigningKeyCheck), ServiceLifecycleStage.First, _ => Task.FromResult(signer));
}
