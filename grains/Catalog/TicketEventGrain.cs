using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using Orleans.Storage;
using System.Collections.Immutable;
using OrleansTickets.Diagnostics;
using OrleansTickets.Events;

namespace OrleansTickets.Catalog;

/// <summary>
/// The catalog entry of one event. Not on the purchase path: dispatchers cache the definition and shards
/// ask for their placement once per activation.
/// </summary>
/// <remarks>
/// Invariant: an event id is created at most once. The grain is non-reentrant, so concurrent creates run one
/// after the other and the second sees <c>RecordExists</c>; a duplicate activation during a membership change is
/// caught by the storage's ETag check, which refuses the second first-write.
/// <para>
/// Immovable for the activation rebalancer. A grain being moved holds its messages until the move is done, and the
/// moves to one silo go in batches, each waiting until its activations are up. Under load a shard of an earlier batch
/// asked this grain for its placement while activating, and the two waited on each other until the 30 s call timeout
/// (SiloFailureTests). Shards now ask on their first call instead, but a move of this grain would still wait on a
/// running GetSales, which waits on shards that may be asking it. The catalog is off the purchase path, so where it
/// lives gains nothing.
/// </para>
/// </remarks>
[Immovable(ImmovableKind.Rebalancer)]
public sealed partial class TicketEventGrain(
    [PersistentState(TicketEventGrain.StateName, StorageNames.Catalog)] IPersistentState<TicketEventState> state,
    TimeProvider clock,
    ILogger<TicketEventGrain> logger) : Grain, ITicketEventGrain
{
    private const string StateName = "event";

    // Logged on the way to answering callers: a throwing provider must not turn their answer into a fault (NonThrowingLogger).
    private readonly ILogger _logger = new NonThrowingLogger(logger);

    // What readers may see: an event only once its first write is stored. GetDefinition and GetPlacement interleave
    // with Create, so they must not observe state.State while that write is still in flight (or about to fail).
    // Later changes (grants) are made to this object before their write, and undone if it fails, so a reader that
    // interleaves may count a grant for a moment that is then undone: unsold tickets over-counted briefly, which can
    // delay a sold-out verdict but sells nothing, since shards sell only what they took in.
    private TicketEventState? _stored;

    // Set once this activation asked to be deactivated: it offers no more grants (see Leave).
    private bool _leaving;

    // A duplicate activation during a membership change may have read storage before another activation stored the
    // event. Left alone it would answer "no such event" (and "no such order" for orders bought from its twin) until it
    // is deactivated, so while it knows of no event it reads storage again, at most this often: questions about ids
    // that never existed must not each cost a database read.
    private static readonly TimeSpan UnknownEventRereadInterval = TimeSpan.FromSeconds(1);
    private DateTimeOffset _readAt;
    private Task? _reread;

    // An activation for an id that names no event (a made-up URL, a typo, a scan) would stay for Orleans' 15 idle
    // minutes, and a crowd of made-up ids would hold one activation each. So while it knows no event it leaves once
    // nobody has asked it anything for this long; the next question activates the grain afresh, reading storage.
    private static readonly TimeSpan UnknownEventIdleLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan UnknownEventIdleCheck = TimeSpan.FromSeconds(5);
    private DateTimeOffset _askedAt;
    private IGrainTimer? _idleTimer;

    // Whether this activation's last read of storage failed. Until a read succeeds it knows nothing either way, and
    // says so (CatalogUnavailableException, a 503) instead of "no such event", which a client takes as final.
    private bool _lastReadFailed;
    private bool _creating;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _readAt = _askedAt = clock.GetUtcNow();
        if (state.RecordExists)
        {
            Adopt(state.State);
        }
        else
        {
            // Not a keep-alive: the ticks alone must not hold the activation.
            _idleTimer = this.RegisterGrainTimer(LeaveIfIdleAndUnknown, new GrainTimerCreationOptions(UnknownEventIdleCheck, UnknownEventIdleCheck));
        }
        return Task.CompletedTask;
    }

    /// <summary>Deactivates an activation that knows no event once nobody has asked it anything for a while.</summary>
    /// <remarks>
    /// A tick is a turn of its own that never awaits, so nothing runs beside it; a create (not interleaved) never runs
    /// across one. The reads (<c>[AlwaysInterleave]</c>) may have left a read of storage in flight, and the tick leaves
    /// the activation alone until it ends. A call that arrives while the activation deactivates is handed by Orleans
    /// to the next activation, which reads storage afresh: an event created in between is found. The wall clock is
    /// used, as for the rereads: a step back only keeps the activation longer.
    /// </remarks>
    private Task LeaveIfIdleAndUnknown(CancellationToken cancellationToken)
    {
        if (_stored is not null)
        {
            _idleTimer?.Dispose();
            _idleTimer = null;
        }
        else if (_reread is null && clock.GetUtcNow() - _askedAt >= UnknownEventIdleLimit)
        {
            this.DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    /// <summary>Takes a stored event as this activation's, and redelivers its pending grants.</summary>
    private void Adopt(TicketEventState stored)
    {
        _stored = stored;
        var now = clock.GetUtcNow();
        foreach (var keyed in stored.GrantsByKey.Values)
        {
            if (keyed.RememberedFrom == default) keyed.RememberedFrom = now;
        }
        if (stored.PendingGrants.Count > 0) EnsureGrantTimer();
    }

    /// <summary>The stored event, read from storage again if this activation knows none and has not looked lately.</summary>
    /// <remarks>
    /// Interleaving readers share one read, and no read runs while <see cref="Create"/> writes: the read replaces
    /// <c>state.State</c> and its ETag, which the create's write is using.
    /// </remarks>
    private async ValueTask<TicketEventState?> StoredAsync()
    {
        if (_stored is not null) return _stored;
        _askedAt = clock.GetUtcNow();
        if (_creating) return null;
        if (_reread is null)
        {
            if (clock.GetUtcNow() - _readAt < UnknownEventRereadInterval) return _lastReadFailed ? throw Unreadable() : null;
            _reread = RereadAsync();
        }
        await EndOfAsync(_reread);
        return _stored is null && _lastReadFailed ? throw Unreadable() : _stored;
    }

    private CatalogUnavailableException Unreadable() =>
        new($"The catalog cannot read event '{this.GetPrimaryKeyString()}' from its storage now.");

    private async Task EndOfAsync(Task reread)
    {
        try
        {
            await reread;
        }
        finally
        {
            // Even if it threw: a failed task left here would fail every later create at its wait.
            if (ReferenceEquals(_reread, reread)) _reread = null;
        }
    }

    private async Task RereadAsync()
    {
        _readAt = clock.GetUtcNow();
        try
        {
            await state.ReadStateAsync();
        }
        catch (Exception exception)
        {
            // "Cannot tell" until a read succeeds; the next question after the interval tries again.
            _lastReadFailed = true;
            LogRereadFailed(_logger, exception);
            return;
        }
        _lastReadFailed = false;
        if (_stored is null && state.RecordExists) Adopt(state.State);
    }

    /// <summary>
    /// Deactivates once idle, and stops redelivering at once: a deactivating activation holds every incoming call, the
    /// shards' placement questions included, so a tick that went on offering grants to shards that must first ask it
    /// where they live would wait out each offer's timeout.
    /// </summary>
    private void Leave()
    {
        _leaving = true;
        this.DeactivateOnIdle();
    }

    /// <inheritdoc />
    public async Task<CreateEventOutcome> Create(EventDefinition definition)
    {
        // Transfer ids and shard addresses are made from the definition's id: stored under another event's key, its
        // shards would be that event's.
        var key = this.GetPrimaryKeyString();
        if (!string.Equals(EventGrainKeys.KeyOf(definition.Id), key, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The definition of event '{definition.Id}' was sent to the catalog grain '{key}'; nothing was stored.", nameof(definition));
        }
        // A read that interleaving readers started must end first; none starts once _creating is set, which happens in
        // the same turn as the loop's last check.
        while (_reread is { } reread) await EndOfAsync(reread);
        if (state.RecordExists) return Existing(definition);
        _creating = true;
        try
        {
            return await CreateAsync(definition);
        }
        finally
        {
            _creating = false;
        }
    }

    private async Task<CreateEventOutcome> CreateAsync(EventDefinition definition)
    {
        var ordinals = await GrainFactory.GetGrain<IShardDatabaseAllocatorGrain>(0).Allocate(definition.TotalShards);
        state.State = new TicketEventState { Definition = definition, DatabaseOrdinals = ordinals, BlocksByDatabase = true };
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Another activation (during a membership change) stored the event first: read what it stored. If that
            // read fails too, this activation, which would go on answering "no such event", makes way for one that
            // reads storage afresh.
            try
            {
                await state.ReadStateAsync();
            }
            catch
            {
                Leave();
                throw;
            }
            if (state.RecordExists) Adopt(state.State);
            return Existing(definition);
        }
        catch
        {
            // The row may or may not be stored. This activation would go on answering "no such event" either way, so
            // it makes way for one that reads what storage holds; a retry then finds the event if it exists.
            Leave();
            throw;
        }
        _stored = state.State;
        return CreateEventOutcome.Created;
    }

    private CreateEventOutcome Existing(EventDefinition asked) =>
        state.RecordExists && state.State.Definition is { } stored && stored.IsSameAs(asked) ? CreateEventOutcome.Repeated : CreateEventOutcome.AlreadyExists;

    /// <inheritdoc />
    public async Task<EventDefinition?> GetDefinition() => (await StoredAsync())?.Definition;

    /// <inheritdoc />
    public async Task<ImmutableArray<int>> GetShardDatabases() =>
        await StoredAsync() is { Definition: not null } stored ? [.. stored.DatabaseOrdinals] : ImmutableArray<int>.Empty;

    /// <inheritdoc />
    public async Task<ShardPlacement?> GetPlacement(string ticketTypeId, int index)
    {
        var stored = await StoredAsync();
        var definition = stored?.Definition;
        var type = definition?.FindTicketType(ticketTypeId);
        if (type is null || index < 0 || index >= type.Shards) return null;
        return new ShardPlacement(
            new ShardAddress(definition!.Id, type.Id, index), stored!.BlockOf(type, index),
            stored!.DatabaseOrdinals[definition.FirstFlatIndexOf(type.Id) + index],
            // Events stored before prices were canonical still sell in the form a replay reads back.
            Prices.Canonical(type.Price, type.Currency), type.Currency, type.MaxPerOrder);
    }

    /// <inheritdoc />
    public async Task<GrantedCapacity?> GetGrantedCapacity(string ticketTypeId) =>
        await StoredAsync() is { } stored
            ? new GrantedCapacity(PendingOf(ticketTypeId), stored.AddedCapacity.GetValueOrDefault(ticketTypeId), stored.DeliveredTo(ticketTypeId))
            : null;

    /// <inheritdoc />
    /// <remarks>
    /// Read into a state object of its own, through the storage provider itself: <c>state</c> belongs to the writes of
    /// this activation's non-interleaved calls, which this call may run beside.
    /// </remarks>
    public async Task<long?> ReadGrantedEver(string ticketTypeId)
    {
        var stored = new GrainState<TicketEventState>();
        await ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Catalog).ReadStateAsync(StateName, this.GetGrainId(), stored);
        return stored.RecordExists && stored.State?.Definition is not null ? stored.State.AddedCapacity.GetValueOrDefault(ticketTypeId) : null;
    }

    /// <summary>Tickets of a type granted by operators that no shard has taken in yet.</summary>
    private long PendingOf(string ticketTypeId) =>
        _stored!.PendingGrants.Where(g => g.TicketTypeId == ticketTypeId).Sum(g => g.Quantity);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the event from storage again failed; this activation answers that it cannot tell until a later question reads it")]
    private static partial void LogRereadFailed(ILogger logger, Exception exception);
}
