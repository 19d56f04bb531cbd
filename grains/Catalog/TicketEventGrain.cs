using Orleans.Storage;
using System.Collections.Immutable;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Sales;

namespace OrleansTickets.Catalog;

/// <summary>
/// The catalog entry of one event. Not on the purchase path: dispatchers cache the definition and shards
/// ask for their placement once per activation.
/// </summary>
/// <remarks>
/// Invariant: an event id is created at most once. The grain is non-reentrant, so concurrent creates run one
/// after the other and the second sees <c>RecordExists</c>; a duplicate activation during a membership change is
/// caught by the storage's ETag check, which refuses the second first-write.
/// </remarks>
public sealed class TicketEventGrain(
    [PersistentState("event", StorageNames.Catalog)] IPersistentState<TicketEventState> state,
    TimeProvider clock) : Grain, ITicketEventGrain
{
    private static readonly TimeSpan RecentSalesAge = TimeSpan.FromSeconds(1);
    private EventSales? _recentSales;
    private DateTimeOffset _recentSalesAt;

    // What readers may see: only state that is durably stored. GetDefinition and GetPlacement interleave with
    // Create, so they must not observe state.State while its first write is still in flight (or about to fail).
    private TicketEventState? _stored;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.RecordExists) _stored = state.State;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<CreateEventOutcome> Create(EventDefinition definition)
    {
        if (state.RecordExists) return CreateEventOutcome.AlreadyExists;
        var ordinals = await GrainFactory.GetGrain<IShardDatabaseAllocatorGrain>(0).Allocate(definition.TotalShards);
        state.State = new TicketEventState { Definition = definition, DatabaseOrdinals = ordinals };
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            await state.ReadStateAsync();
            if (state.RecordExists) _stored = state.State;
            return CreateEventOutcome.AlreadyExists;
        }
        _stored = state.State;
        return CreateEventOutcome.Created;
    }

    /// <inheritdoc />
    public Task<EventDefinition?> GetDefinition() => Task.FromResult(_stored?.Definition);

    /// <inheritdoc />
    public Task<ShardPlacement?> GetPlacement(string ticketTypeId, int index)
    {
        var definition = _stored?.Definition;
        if (definition is null) return Task.FromResult<ShardPlacement?>(null);
        var flat = 0;
        foreach (var type in definition.TicketTypes)
        {
            if (type.Id == ticketTypeId)
            {
                if (index < 0 || index >= type.Shards) break;
                return Task.FromResult<ShardPlacement?>(new ShardPlacement(
                    new ShardAddress(definition.Id, type.Id, index), type.BlockOf(index),
                    _stored!.DatabaseOrdinals[flat + index], type.Price, type.Currency));
            }
            flat += type.Shards;
        }
        return Task.FromResult<ShardPlacement?>(null);
    }

    /// <inheritdoc />
    public async Task<EventSales?> GetSales()
    {
        var definition = _stored?.Definition;
        if (definition is null) return null;
        var types = ImmutableArray.CreateBuilder<TicketTypeSales>(definition.TicketTypes.Length);
        foreach (var type in definition.TicketTypes)
        {
            var shards = await Task.WhenAll(Enumerable.Range(0, type.Shards).Select(i =>
                GrainFactory.GetGrain<IInventoryShardGrain>(new ShardAddress(definition.Id, type.Id, i).Key).GetSales()));
            var sold = shards.Sum(s => s.Sold);
            types.Add(new TicketTypeSales(type.Id, type.Capacity, sold, type.Capacity - sold, [.. shards]));
        }
        _recentSales = new EventSales(definition.Id, types.MoveToImmutable());
        _recentSalesAt = clock.GetUtcNow();
        return _recentSales;
    }

    /// <inheritdoc />
    public async Task<EventSales?> GetRecentSales()
    {
        if (_recentSales is not null && clock.GetUtcNow() - _recentSalesAt < RecentSalesAge) return _recentSales;
        return await GetSales();
    }
}
