using System.Reflection;
using OrleansTickets.Catalog;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// Orleans' ADO.NET grain storage keys a row by the state's name and the grain's key, not by the grain's class: two
/// grain classes with one state name on one storage would share the rows of keys they have in common, each reading the
/// other's state and their writes fighting over its version.
/// </summary>
public sealed class PersistentStateNamesTests
{
    [Fact]
    public void No_two_grain_classes_share_a_state_name_on_one_storage()
    {
        var states = typeof(TicketEventGrain).Assembly.GetTypes()
            .Where(type => type.IsClass && typeof(Grain).IsAssignableFrom(type))
            .SelectMany(type => type.GetConstructors().SelectMany(constructor => constructor.GetParameters())
                .Select(parameter => parameter.GetCustomAttribute<PersistentStateAttribute>())
                .OfType<PersistentStateAttribute>()
                .Select(state => (Grain: type, state.StorageName, state.StateName)))
            .Distinct()
            .ToList();

        // Without this the test would pass over an assembly whose grains it could not see.
        Assert.Contains(states, state => state.Grain == typeof(TicketEventGrain));
        Assert.Contains(states, state => state.Grain == typeof(ShardDatabaseAllocatorGrain));
        var shared = states.GroupBy(state => (state.StorageName, state.StateName)).Where(group => group.Count() > 1).ToList();
        Assert.True(shared.Count == 0, string.Join("; ", shared.Select(group =>
            $"'{group.Key.StateName}' on '{group.Key.StorageName}': {string.Join(", ", group.Select(state => state.Grain.Name))}")));
    }
}
