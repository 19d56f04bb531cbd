using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The end of a sale, reported apart from its body by every orders run.</summary>
public sealed class SaleTailTests
{
    [Fact]
    public void The_tail_is_measured_from_the_mark_to_the_end_and_the_body_from_the_start_to_the_mark()
    {
        var start = new SaleMark(0, 0, TimeSpan.FromSeconds(10));
        var mark = new SaleMark(6, 48_000, TimeSpan.FromSeconds(10 + 48_000 * 160e-6));
        var end = new SaleMark(9, 60_000, TimeSpan.FromSeconds(10 + 48_000 * 160e-6 + 12_000 * 300e-6));

        var tail = SaleTail.Split(0.2, start, mark, end)!;

        Assert.Equal(3, tail.Seconds, 6);
        Assert.Equal(1.0 / 3, tail.ShareOfTime, 6);
        Assert.Equal(12_000, tail.Orders);
        Assert.Equal(300, tail.ServiceMicrosPerOrder!.Value, 3);
        Assert.Equal(160, tail.BodyServiceMicrosPerOrder!.Value, 3);
        Assert.Equal("last 20% of the tickets: 3.00 s (33% of the sale), 12000 orders; service 300 µs per order, against 160 before", tail.ToString());
    }

    [Fact]
    public void Without_the_service_s_CPU_the_tail_still_has_its_time_and_orders()
    {
        var tail = SaleTail.Split(0.2, new SaleMark(0, 0, null), new SaleMark(4, 100, null), new SaleMark(5, 120, null))!;

        Assert.Null(tail.ServiceMicrosPerOrder);
        Assert.Equal("last 20% of the tickets: 1.00 s (20% of the sale), 20 orders", tail.ToString());
    }

    [Fact]
    public void Latency_is_split_at_the_mark_and_the_tail_reports_both_p99s()
    {
        var latency = new LatencyRecorder();
        for (var i = 1; i <= 100; i++) latency.Record(TimeSpan.FromMilliseconds(i));
        latency.Mark();
        for (var i = 1; i <= 100; i++) latency.Record(TimeSpan.FromMilliseconds(10 * i));

        var before = latency.SummarizeBeforeMark();
        var after = latency.SummarizeAfterMark();
        Assert.Equal((100L, 100L, 200L), (before.Count, after.Count, latency.Summarize().Count));
        Assert.Equal(99, before.P99, 0);
        Assert.Equal(990, after.P99, 0);

        var tail = SaleTail.Split(0.2, new SaleMark(0, 0, null), new SaleMark(4, 100, null), new SaleMark(5, 120, null))!
            with { P99Milliseconds = 990, BodyP99Milliseconds = 99 };
        Assert.EndsWith("; p99 990.0 ms, against 99.0 before", tail.ToString());
    }

    [Fact]
    public void A_sale_with_no_orders_on_one_side_of_the_mark_has_no_tail()
    {
        Assert.Null(SaleTail.Split(0.2, new SaleMark(0, 0, null), new SaleMark(1, 0, null), new SaleMark(2, 10, null)));
        Assert.Null(SaleTail.Split(0.2, new SaleMark(0, 0, null), new SaleMark(1, 10, null), new SaleMark(2, 10, null)));
    }

    [Fact]
    public async Task The_watch_marks_the_first_moment_the_tickets_reach_the_threshold()
    {
        var counters = new LoadCounters();
        counters.RecordOrder(3);
        var watch = SaleTailWatch.WaitForAsync(counters, threshold: 8, System.Diagnostics.Stopwatch.GetTimestamp(),
            () => TimeSpan.FromSeconds(1), CancellationToken.None);
        await Task.Delay(50);
        Assert.False(watch.IsCompleted);

        counters.RecordOrder(4);
        counters.RecordOrder(2);
        var mark = await watch.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.NotNull(mark);
        Assert.Equal(3, mark.Orders);
        Assert.Equal(TimeSpan.FromSeconds(1), mark.ServiceCpu);
    }

    [Fact]
    public async Task A_sale_stopped_before_the_threshold_gives_no_mark()
    {
        using var stop = new CancellationTokenSource();
        var watch = SaleTailWatch.WaitForAsync(new LoadCounters(), threshold: 1, System.Diagnostics.Stopwatch.GetTimestamp(), () => null, stop.Token);
        await stop.CancelAsync();
        Assert.Null(await watch.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
