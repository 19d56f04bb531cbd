using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansTickets.Hosting;
using OrleansTickets.Storage;

namespace OrleansTickets.Tickets;

/// <summary>
/// Builds the ticket signer when the silo starts, so that an unreadable key file stops the start with its reason
/// instead of failing every purchase of a silo that already listens. (A configured key is checked by options
/// validation, before this.) Taking the signer in the constructor is that check: the silo resolves its lifecycle
/// participants as it starts. Once the catalog's schema exists, the key is compared with the one the catalog recorded
/// (<see cref="SigningKeyRecord"/>).
/// </summary>
internal sealed class SigningKeyCheck(TicketCodeSigner signer, IOptions<TicketStorageOptions> storage, ILogger<SigningKeyCheck> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(SigningKeyCheck), ServiceLifecycleStage.First, _ => Task.FromResult(signer));
        // After the catalog's schema (CatalogSchemaInitializer, at RuntimeInitialize), long before anything is sold.
        lifecycle.Subscribe(nameof(SigningKeyRecord), ServiceLifecycleStage.RuntimeInitialize + 1,
            cancellationToken => DatabaseStartRetry.RunAsync("signing key record",
                token => SigningKeyRecord.CheckAsync(storage.Value, signer.KeyCheck(), token), logger, cancellationToken));
    }
}
