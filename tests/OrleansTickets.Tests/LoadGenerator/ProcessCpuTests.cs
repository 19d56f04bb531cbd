using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>Reading another process's CPU time from <c>/proc/&lt;pid&gt;/stat</c>, for the service's CPU per order.</summary>
public sealed class ProcessCpuTests
{
    [Fact]
    public void User_and_system_ticks_are_read_after_a_command_name_with_spaces_and_parentheses()
    {
        // utime 1234 and stime 566 ticks of 1/100 s: 18 s.
        const string stat = "4242 (dotnet (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 566 0 0 20 0 40 0 123 456 789";
        Assert.Equal(TimeSpan.FromSeconds(18), ProcessCpu.Parse(stat));
    }

    [Theory]
    [InlineData("")]
    [InlineData("4242 dotnet S 1 2 3")]
    [InlineData("4242 (dotnet) S 1 4242 4242 0 -1 4194560 100 0 0 0 x 566")]
    public void Text_that_is_not_a_stat_line_gives_nothing(string stat) => Assert.Null(ProcessCpu.Parse(stat));

    [Fact]
    public void This_process_has_used_some_cpu_and_a_missing_one_none()
    {
        Assert.True(ProcessCpu.Read(Environment.ProcessId) > TimeSpan.Zero);
        Assert.Null(ProcessCpu.Read(int.MaxValue));
    }
}
