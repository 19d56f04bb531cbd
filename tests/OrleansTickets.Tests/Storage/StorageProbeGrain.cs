namespace OrleansTickets.Tests.Storage;

/// <summary>Names of the ADO.NET grain storage providers the storage tests configure.</summary>
public static class StorageNames
{
    /// <summary>Clearing keeps the row (payload NULL, version bumped).</summary>
    public const string Catalog = "catalog";
}

/// <summary>The persisted shape the storage tests round-trip.</summary>
[GenerateSerializer]
public sealed class ProbeState
{
    /// <summary>Last value written.</summary>
    [Id(0)] public string? Value { get; set; }

    /// <summary>How many writes the grain has made; proves the whole object round-trips.</summary>
    [Id(1)] public int Writes { get; set; }
}

/// <summary>What a probe grain reports about its persistent state.</summary>
[GenerateSerializer]
public sealed class ProbeSnapshot
{
    /// <summary>The state's value.</summary>
    [Id(0)] public string? Value { get; init; }

    /// <summary>The state's write counter.</summary>
    [Id(1)] public int Writes { get; init; }

    /// <summary>The storage ETag (the row version).</summary>
    [Id(2)] public string? ETag { get; init; }

    /// <summary>Whether storage holds a payload for the grain.</summary>
    [Id(3)] public bool RecordExists { get; init; }
}

/// <summary>A grain whose only job is to exercise <see cref="IPersistentState{TState}"/> on the catalog provider.</summary>
public interface IStorageProbeGrain : IGrainWithStringKey
{
    /// <summary>Reports the state as loaded at activation or after the last operation.</summary>
    Task<ProbeSnapshot> ReadAsync();

    /// <summary>Sets the value, bumps the counter and writes the state.</summary>
    Task<ProbeSnapshot> WriteAsync(string value);

    /// <summary>Clears the state in storage.</summary>
    Task<ProbeSnapshot> ClearAsync();
}

/// <inheritdoc cref="IStorageProbeGrain"/>
// The state name is specific on purpose: the ADO.NET provider keys rows by state name and grain
// key only, not by grain type, so a generic name like "state" would collide across grain classes.
public sealed class StorageProbeGrain(
    [PersistentState("storage-probe", StorageNames.Catalog)] IPersistentState<ProbeState> state) : Grain, IStorageProbeGrain
{
    /// <inheritdoc/>
    public Task<ProbeSnapshot> ReadAsync() => Task.FromResult(Snapshot());

    /// <inheritdoc/>
    public async Task<ProbeSnapshot> WriteAsync(string value)
    {
        state.State.Value = value;
        state.State.Writes++;
        await state.WriteStateAsync();
        return Snapshot();
    }

    /// <inheritdoc/>
    public async Task<ProbeSnapshot> ClearAsync()
    {
        await state.ClearStateAsync();
        return Snapshot();
    }

    private ProbeSnapshot Snapshot() => new()
    {
        Value = state.State.Value,
        Writes = state.State.Writes,
        ETag = state.Etag,
        RecordExists = state.RecordExists,
    };
}
