using OrleansTickets.Inventory;

namespace OrleansTickets.Tests.Grains;

/// <summary>
/// A run is shared only while it runs. A caller that arrives between a run's end and its removal (a continuation that
/// runs before the owner's) starts its own, as one a moment later would: a forward's unrecorded "sold out" must not be
/// passed to the home's fallback that waited on it (InventoryShardGrain.Keys.cs).
/// </summary>
public sealed class SingleFlightTests
{
    [Fact]
    public async Task A_caller_that_meets_a_run_still_running_shares_its_result()
    {
        var flight = new SingleFlight<string>();
        var first = new TaskCompletionSource<string>();
        var starts = 0;

        var owner = flight.RunAsync("order-1", () => { starts++; return first.Task; });
        var sharer = flight.RunAsync("order-1", () => { starts++; return Task.FromResult("second run"); });
        first.SetResult("first run");

        Assert.Equal(("first run", "first run", 1), (await owner, await sharer, starts));
    }

    [Fact]
    public async Task A_caller_that_meets_a_finished_run_not_yet_removed_starts_its_own()
    {
        var flight = new SingleFlight<string>();
        var first = new TaskCompletionSource<string>();
        // Registered before the owner's await, so it runs first when the run ends: the finished run is still listed.
        var late = first.Task.ContinueWith(
            _ => flight.RunAsync("order-1", () => Task.FromResult("second run")),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
        var owner = flight.RunAsync("order-1", () => first.Task);

        first.SetResult("first run");

        Assert.Equal("first run", await owner);
        Assert.Equal("second run", await late);
        Assert.False(flight.TryGetRunning("order-1", out _));
    }

    [Fact]
    public async Task A_finished_run_not_yet_removed_is_not_reported_running()
    {
        // The shard's transfers and forwards ask TryGetRunning before RunAsync, and pass on what they find.
        var flight = new SingleFlight<string>();
        var first = new TaskCompletionSource<string>();
        var sawRunning = first.Task.ContinueWith(
            _ => flight.TryGetRunning("order-1", out _),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var owner = flight.RunAsync("order-1", () => first.Task);
        Assert.True(flight.TryGetRunning("order-1", out _));

        first.SetResult("first run");

        Assert.Equal("first run", await owner);
        Assert.False(await sawRunning);
    }
}
