using Microsoft.Extensions.Configuration;
using OrleansTickets.Api.Hosting;

namespace OrleansTickets.Tests.Hosting;

/// <summary>The kind of membership a silo uses is one it knows, or the silo does not start.</summary>
public sealed class ClusterHostOptionsTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("Localhost", false)]
    [InlineData("localhost", false)]
    [InlineData("AdoNet", true)]
    [InlineData("adonet", true)]
    public void Localhost_and_AdoNet_are_read_in_any_case(string? membership, bool adoNet)
    {
        var options = ClusterHostOptions.From(Configuration(membership));

        Assert.Equal(adoNet, options.UsesAdoNetClustering);
    }

    [Theory]
    [InlineData("Postgres")]
    [InlineData("AdoNet ")]
    [InlineData("")]
    public void Any_other_kind_is_refused_instead_of_meaning_a_one_silo_cluster(string membership)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ClusterHostOptions.From(Configuration(membership)));

        Assert.Contains("Cluster:Membership", error.Message);
    }

    private static IConfiguration Configuration(string? membership) =>
        new ConfigurationBuilder().AddInMemoryCollection(
            membership is null ? [] : [new KeyValuePair<string, string?>("Cluster:Membership", membership)]).Build();
}
