using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>Reading the hypervisor's steal from <c>/proc/stat</c>, which every benchmark run now reports.</summary>
public sealed class HypervisorStealTests
{
    [Fact]
    public void Steal_is_the_eighth_number_of_the_all_cores_line()
    {
        // user nice system idle iowait irq softirq steal(52876 ticks of 1/100 s) guest guest_nice, then per-core lines.
        const string stat = "cpu  8276249 0 1210195 4986716 115299 0 192289 52876 0 0\ncpu0 1 2 3 4 5 6 7 99999 0 0\nintr 1 2\n";
        Assert.Equal(TimeSpan.FromSeconds(528.76), HypervisorSteal.Parse(stat));
    }

    [Theory]
    [InlineData("")]
    [InlineData("cpu0 1 2 3 4 5 6 7 8 9 10")]
    [InlineData("cpu  1 2 3 4 5 6 7")]
    [InlineData("cpu  1 2 3 4 5 6 7 x 0 0")]
    public void Text_without_an_all_cores_steal_column_gives_nothing(string stat) => Assert.Null(HypervisorSteal.Parse(stat));

    [Fact]
    public void This_machine_reports_steal() => Assert.NotNull(HypervisorSteal.Read());
}
