using System.Diagnostics;
using OrleansTickets.LoadGenerator.Measurement;
using OrleansTickets.LoadGenerator.Options;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>The sale's responses by arrival time (<c>--latency-timeline</c>), for telling bursts from queueing.</summary>
public sealed class LatencyTimelineTests
{
    [Fact]
    public void The_timeline_is_an_orders_run_s_option()
    {
        Assert.Equal("t.csv", LoadOptionsParser.Parse(["--latency-timeline", "t.csv"]).LatencyTimeline);
        Assert.Null(LoadOptionsParser.Parse([]).LatencyTimeline);
        Assert.Throws<UsageException>(() => LoadOptionsParser.Parse(["--mode", "bare", "--latency-timeline", "t.csv"]));
    }

    [Fact]
    public void Responses_are_grouped_by_their_arrival_window_and_a_window_without_any_says_so()
    {
        var timeline = new LatencyTimeline();
        const long startedAt = 1_000_000;
        long At(double seconds) => startedAt + (long)(seconds * Stopwatch.Frequency);
        for (var i = 1; i <= 100; i++) timeline.Add(At(0.05), i * 1000);
        timeline.Add(At(0.35), 30_000);
        timeline.Add(At(0.31), 2_000);

        var rows = timeline.Rows(startedAt, TimeSpan.FromMilliseconds(100));

        Assert.Equal(
            ["start_s,responses,p50_ms,p99_ms,max_ms", "0.00,100,50.0,99.0,100.0", "0.10,0,,,", "0.20,0,,,", "0.30,2,2.0,30.0,30.0"],
            rows);
    }

    [Fact]
    public void The_recorder_feeds_the_timeline_every_response_it_records()
    {
        var timeline = new LatencyTimeline();
        var recorder = new LatencyRecorder(timeline);
        var startedAt = Stopwatch.GetTimestamp();

        recorder.Record(TimeSpan.FromMilliseconds(3));
        recorder.Mark();
        recorder.Record(TimeSpan.FromMilliseconds(7));

        var rows = timeline.Rows(startedAt, TimeSpan.FromHours(1));
        Assert.Equal(["start_s,responses,p50_ms,p99_ms,max_ms", "0.00,2,3.0,7.0,7.0"], rows);
    }
}
