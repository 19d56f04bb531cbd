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

        // The run's p99 is 99 ms (the 101st of 102): only the 100 ms response is above it.
        Assert.Equal(
            ["start_s,responses,p50_ms,p99_ms,max_ms,above_run_p99", "0.00,100,50.0,99.0,100.0,1", "0.10,0,,,,0", "0.20,0,,,,0", "0.30,2,2.0,30.0,30.0,0"],
            rows);
    }

    [Fact]
    public void Each_window_counts_its_responses_slower_than_the_whole_run_s_p99()
    {
        var timeline = new LatencyTimeline();
        const long startedAt = 1_000_000;
        long At(double seconds) => startedAt + (long)(seconds * Stopwatch.Frequency);
        // 400 answers of 5 ms through the run and one of 6 ms in its middle, which is the run's p99 (the 401st of 405):
        // equal to it is not above it. Above it: 2 of 40 ms at the start and 2 of 60 ms at the end.
        for (var i = 0; i < 400; i++) timeline.Add(At(i * 0.00075), 5_000);
        timeline.Add(At(0.01), 40_000);
        timeline.Add(At(0.02), 40_000);
        timeline.Add(At(0.15), 6_000);
        timeline.Add(At(0.29), 60_000);
        timeline.Add(At(0.295), 60_000);

        var rows = timeline.Rows(startedAt, TimeSpan.FromMilliseconds(100));

        Assert.Equal(["0.00,136,5.0,40.0,40.0,2", "0.10,134,5.0,5.0,6.0,0", "0.20,135,5.0,60.0,60.0,2"], rows.Skip(1));
    }

    [Fact]
    public void Each_window_gives_the_cores_the_readings_show_and_nothing_where_they_do_not()
    {
        var timeline = new LatencyTimeline();
        var cpu = new CpuTimeline();
        const long startedAt = 1_000_000;
        long At(double seconds) => startedAt + (long)(seconds * Stopwatch.Frequency);
        timeline.Add(At(0.05), 1_000);
        timeline.Add(At(0.25), 1_000);
        timeline.Add(At(0.35), 1_000);
        // Readings every 50 ms from 25 ms, so every window's edges fall between two: the service busy on 2 cores, then
        // on 0.6 of one from 0.125 s; the generator on a quarter of one throughout. The service could not be read at
        // 0.325 s, and the readings end at 0.375 s.
        TimeSpan Seconds(double value) => TimeSpan.FromSeconds(value);
        cpu.Add(At(0.025), Seconds(1.0), Seconds(0));
        cpu.Add(At(0.075), Seconds(1.1), Seconds(0.0125));
        cpu.Add(At(0.125), Seconds(1.2), Seconds(0.025));
        cpu.Add(At(0.175), Seconds(1.23), Seconds(0.0375));
        cpu.Add(At(0.225), Seconds(1.26), Seconds(0.05));
        cpu.Add(At(0.275), Seconds(1.29), Seconds(0.0625));
        cpu.Add(At(0.325), null, Seconds(0.075));
        cpu.Add(At(0.375), Seconds(1.35), Seconds(0.0875));

        var rows = timeline.Rows(startedAt, TimeSpan.FromMilliseconds(100), cpu);

        Assert.Equal(
            [
                "start_s,responses,p50_ms,p99_ms,max_ms,above_run_p99,service_cores,generator_cores",
                // The first window from the first reading on.
                "0.00,1,1.0,1.0,1.0,0,2.00,0.25",
                // 25 ms at 2 cores and 75 ms at 0.6 of one.
                "0.10,0,,,,0,0.95,0.25",
                // Around an unread reading the service is not guessed at; the generator's window ends where the readings do.
                "0.20,1,1.0,1.0,1.0,0,,0.25",
                "0.30,1,1.0,1.0,1.0,0,,0.25",
            ],
            rows);
    }

    [Fact]
    public void A_reading_on_a_window_s_edge_is_that_edge_s_time_whatever_its_neighbours()
    {
        var cpu = new CpuTimeline();
        const long startedAt = 1_000_000;
        long At(double seconds) => startedAt + (long)(seconds * Stopwatch.Frequency);
        cpu.Add(At(0.0), null, TimeSpan.Zero);
        cpu.Add(At(0.1), TimeSpan.FromSeconds(1.0), TimeSpan.FromSeconds(0.01));
        cpu.Add(At(0.2), TimeSpan.FromSeconds(1.1), TimeSpan.FromSeconds(0.02));

        var (service, generator) = cpu.CoresBetween(At(0.1), At(0.2));

        Assert.Equal(1.0, service!.Value, precision: 6);
        Assert.Equal(0.1, generator!.Value, precision: 6);
    }

    [Fact]
    public async Task Readings_taken_while_time_passes_count_the_generator_s_own_work()
    {
        var cpu = new CpuTimeline();
        using var stop = new CancellationTokenSource();
        var sampling = cpu.SampleAsync(() => TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(10), stop.Token);
        var from = Stopwatch.GetTimestamp();
        var spun = Stopwatch.StartNew();
        while (spun.ElapsedMilliseconds < 200) Thread.SpinWait(1_000);
        var to = Stopwatch.GetTimestamp();
        await stop.CancelAsync();
        await sampling;

        var (service, generator) = cpu.CoresBetween(from, to);
        // A service whose time never moves used no cores; this thread spun on a core the whole time (less on a machine
        // busy with other work, more with other tests running in this process).
        Assert.Equal(0, service);
        Assert.InRange(generator!.Value, 0.1, Environment.ProcessorCount + 0.5);
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
        Assert.Equal(["start_s,responses,p50_ms,p99_ms,max_ms,above_run_p99", "0.00,2,3.0,7.0,7.0,0"], rows);
    }
}
