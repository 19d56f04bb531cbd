using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OrleansTickets.LoadGenerator;
using OrleansTickets.LoadGenerator.Options;
using OrleansTickets.LoadGenerator.Orders;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>
/// The chaos run fires its faults only while buyers are buying: the load generator says when they stopped, before it
/// goes on to ask about unanswered orders and check the sale.
/// </summary>
public sealed class BuyingEndedFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("buying-ended-").FullName;

    [Fact]
    public void The_file_is_an_option_of_orders_runs_alone()
    {
        Assert.Equal("ended", LoadOptionsParser.Parse(["--buying-ended-file", "ended"]).BuyingEndedFile);
        Assert.Null(LoadOptionsParser.Parse([]).BuyingEndedFile);
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "bare", "--buying-ended-file", "ended"]));
    }

    [Fact]
    public async Task An_orders_run_writes_when_its_buyers_stopped_before_it_reads_the_sales_to_check_them()
    {
        var salesReads = new ConcurrentQueue<DateTimeOffset>();
        using var storage = TestStorage.Sqlite();
        await using var host = await ApiHost.StartAsync(storage, services: services =>
            services.AddSingleton<IStartupFilter>(new SalesReadClock(salesReads)));
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("ended", capacity: 12, shards: 2)).StatusCode);
        var file = Path.Combine(_folder, "buying-ended");

        var before = DateTimeOffset.UtcNow;
        // The event's own read before the sale is not a sales read; the buyers make none.
        var exit = await OrdersRun.RunAsync(LoadOptionsParser.Parse(
            ["--url", host.Client.BaseAddress!.ToString(), "--event", "ended", "--connections", "3", "--buying-ended-file", file]));
        var after = DateTimeOffset.UtcNow;

        Assert.Equal(ExitCodes.Passed, exit);
        var ended = DateTimeOffset.UnixEpoch.AddTicks(
            long.Parse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture) * TimeSpan.TicksPerMicrosecond);
        Assert.InRange(ended, before, after);
        // The check of the sale read /sales after the buyers had stopped.
        Assert.NotEmpty(salesReads);
        Assert.True(salesReads.Min() >= ended, $"a sales read at {salesReads.Min():O}, the buying ended at {ended:O}");
        Assert.Equal([file], Directory.GetFiles(_folder));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Notes when each request for the event's sales arrived.</summary>
    private sealed class SalesReadClock(ConcurrentQueue<DateTimeOffset> reads) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, following) =>
            {
                if (context.Request.Path.Value?.EndsWith("/sales", StringComparison.Ordinal) == true) reads.Enqueue(DateTimeOffset.UtcNow);
                await following(context);
            });
            next(app);
        };
    }
}
