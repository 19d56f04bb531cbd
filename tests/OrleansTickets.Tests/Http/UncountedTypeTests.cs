using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.Events;
using OrleansTickets.Inventory;
using OrleansTickets.Sales;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Http;

/// <summary>
/// A shard that cannot say what it holds (its database not read since it started) reports its first block, marked as a
/// guess. The type's totals then rest on that guess, so they say so: <c>known</c> false in the sales report, and no
/// capacity or remaining count on the event page, rather than a sold-out type shown with tickets left.
/// </summary>
public sealed class UncountedTypeTests
{
    [Fact]
    public async Task A_type_with_a_shard_that_reports_a_guess_is_not_counted_as_known()
    {
        using var storage = TestStorage.Sqlite();
        var guessing = new GuessingShard(new ShardAddress("guess-fest", "ga", 1));
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(guessing));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("guess-fest", capacity: 20, shards: 2)).StatusCode);
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("guess-fest", 2)).StatusCode);

        var counted = await host.Client.GetAsync("/api/events/guess-fest/sales");
        Assert.True((await counted.JsonAsync()).GetProperty("ticketTypes")[0].GetProperty("known").GetBoolean());
        var page = (await (await host.Client.GetAsync("/api/events/guess-fest")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((20L, 10L), (page.GetProperty("capacity").GetInt64(), page.GetProperty("remaining").GetInt64()));

        guessing.Guessing = true;
        // The event page's count is at most a second old.
        await Task.Delay(TimeSpan.FromSeconds(1.2));

        var type = (await (await host.Client.GetAsync("/api/events/guess-fest/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.False(type.GetProperty("known").GetBoolean());
        Assert.False(type.GetProperty("shards")[1].GetProperty("known").GetBoolean());
        page = (await (await host.Client.GetAsync("/api/events/guess-fest")).JsonAsync()).GetProperty("ticketTypes")[0];
        // Before, the page added the guess in: the shard's whole block unsold, beside what it had sold.
        Assert.Equal(JsonValueKind.Null, page.GetProperty("capacity").ValueKind);
        Assert.Equal(JsonValueKind.Null, page.GetProperty("remaining").ValueKind);

        guessing.Guessing = false;
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        page = (await (await host.Client.GetAsync("/api/events/guess-fest")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((20L, 10L), (page.GetProperty("capacity").GetInt64(), page.GetProperty("remaining").GetInt64()));
    }

    [Fact]
    public async Task A_type_whose_reports_leave_out_a_grant_the_catalog_saw_taken_in_is_not_counted_and_not_sold_out()
    {
        using var storage = TestStorage.Sqlite();
        var stale = new ReportFromBeforeItsGrant(new ShardAddress("stale-fest", "ga", 0));
        await using var host = await ApiHost.StartAsync(storage, services: services => services.AddSingleton<IIncomingGrainCallFilter>(stale));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("stale-fest", capacity: 2, shards: 1, maxPerOrder: 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("stale-fest", 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.PostAsJsonAsync("/api/events/stale-fest/ticket-types/ga/capacity", new { quantity = 2 })).StatusCode);

        var type = (await (await host.Client.GetAsync("/api/events/stale-fest/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((true, 2L, 2L), (type.GetProperty("known").GetBoolean(), type.GetProperty("remaining").GetInt64(),
            type.GetProperty("shards")[0].GetProperty("grantedIn").GetInt64()));
        Assert.False(type.TryGetProperty("missesGrants", out _), "The record's own flag reached the JSON, beside known.");

        // The shard now answers as an activation replaced before the grant would: its last counts, without the grant.
        stale.Replaying = true;
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        type = (await (await host.Client.GetAsync("/api/events/stale-fest/sales")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal((false, 0L), (type.GetProperty("known").GetBoolean(), type.GetProperty("remaining").GetInt64()));
        var page = (await (await host.Client.GetAsync("/api/events/stale-fest")).JsonAsync()).GetProperty("ticketTypes")[0];
        Assert.Equal(JsonValueKind.Null, page.GetProperty("remaining").ValueKind);
        // Before, "sold out" beside the two granted tickets; now "try again".
        var refused = await host.Client.OrderAsync("stale-fest", 1);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.EndsWith("/unavailable", (await refused.JsonAsync()).GetProperty("type").GetString());

        stale.Replaying = false;
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("stale-fest", 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Client.OrderAsync("stale-fest", 1)).StatusCode);
    }

    /// <summary>While <see cref="Guessing"/>, the shard reports its first block as a guess, as one that never read its row does.</summary>
    private sealed class GuessingShard(ShardAddress shard) : IIncomingGrainCallFilter
    {
        public volatile bool Guessing;

        public Task Invoke(IIncomingGrainCallContext context)
        {
            if (!Guessing || context.InterfaceMethod.Name != nameof(IInventoryShardGrain.GetSales) || context.TargetId.Key.ToString() != shard.Key)
            {
                return context.Invoke();
            }
            context.Result = new ShardSales(shard.Index, 10, 0, 10, ShardStatus.Unavailable, Known: false);
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// While <see cref="Replaying"/>, the shard's sales report leaves out what operators' grants brought it, as a report
    /// from an activation replaced before it took them in would.
    /// </summary>
    private sealed class ReportFromBeforeItsGrant(ShardAddress shard) : IIncomingGrainCallFilter
    {
        public volatile bool Replaying;

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            await context.Invoke();
            if (Replaying && context.InterfaceMethod.Name == nameof(IInventoryShardGrain.GetSales) && context.TargetId.Key.ToString() == shard.Key
                && context.Result is ShardSales { GrantedIn: > 0 } report)
            {
                context.Result = report with
                {
                    Capacity = report.Capacity - report.GrantedIn,
                    Remaining = Math.Max(0, report.Remaining - report.GrantedIn),
                    Status = report.Remaining <= report.GrantedIn ? ShardStatus.SoldOut : report.Status,
                    GrantedIn = 0,
                };
            }
        }
    }
}
