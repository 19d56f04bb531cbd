using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using OrleansTickets.Silo.Rehearsal;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Http;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Rehearsal;

/// <summary>
/// The rehearsal copy's ports are chosen free and bound later, so another connection can take one in between: the
/// copy's start must then try new ports rather than fail the rehearsal, and must still give up after a few tries.
/// </summary>
public sealed class RehearsalPortTests
{
    [Fact]
    public async Task A_copy_whose_silo_port_was_taken_after_it_was_chosen_starts_on_the_next_ports_it_is_given()
    {
        using var limit = new CancellationTokenSource(Limit);
        using var taken = Occupied();
        var offers = new Queue<Func<(int, int)>>([() => (taken.Port, FreePort.Next()), () => (FreePort.Next(), FreePort.Next())]);
        var scratch = ScratchStorage.For(new TicketStorageOptions(), Directory.CreateTempSubdirectory("orleans-tickets-ports-").FullName);
        try
        {
            await using (var copy = await RehearsalSilo.StartAsync(EmptyConfiguration, scratch.Settings, () => offers.Dequeue()(), limit.Token))
            {
                Assert.Empty(offers);
                // The copy answers over HTTP, with a silo behind its API.
                await ApiContractTests.AssertProblemAsync(await copy.Client.GetAsync("/api/events/nothing-here"), HttpStatusCode.NotFound, "event-not-found");
            }
        }
        finally
        {
            await scratch.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_copy_whose_gateway_port_was_taken_leaves_nothing_listening_on_the_silo_port_of_its_failed_try()
    {
        using var limit = new CancellationTokenSource(Limit);
        using var taken = Occupied();
        var firstSiloPort = FreePort.Next();
        var offers = new Queue<Func<(int, int)>>([() => (firstSiloPort, taken.Port), () => (FreePort.Next(), FreePort.Next())]);
        var scratch = ScratchStorage.For(new TicketStorageOptions(), Directory.CreateTempSubdirectory("orleans-tickets-ports-").FullName);
        try
        {
            await using var copy = await RehearsalSilo.StartAsync(EmptyConfiguration, scratch.Settings, () => offers.Dequeue()(), limit.Token);
            Assert.Empty(offers);
            // Orleans binds the silo's and the gateway's listeners side by side, and refuses to stop a silo that never
            // ran: left to that stop, the silo's listener went on accepting connections until the process ended.
            using var probe = new TcpListener(IPAddress.Loopback, firstSiloPort);
            probe.Start();
        }
        finally
        {
            await scratch.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_copy_that_finds_every_port_it_is_given_taken_gives_up_after_its_tries_with_address_in_use()
    {
        using var limit = new CancellationTokenSource(Limit);
        using var taken = Occupied();
        var offers = 0;
        var scratch = ScratchStorage.For(new TicketStorageOptions(), Directory.CreateTempSubdirectory("orleans-tickets-ports-").FullName);
        try
        {
            await Assert.ThrowsAsync<AddressInUseException>(() => RehearsalSilo.StartAsync(
                EmptyConfiguration, scratch.Settings, () => { offers++; return (taken.Port, FreePort.Next()); }, limit.Token));
            Assert.Equal(RehearsalSilo.PortAttempts, offers);
        }
        finally
        {
            await scratch.DisposeAsync();
        }
    }

    private static IConfiguration EmptyConfiguration => new ConfigurationBuilder().Build();

    // Bounds a start that never returns, so a regression fails the test instead of hanging the run.
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    private static Listener Occupied()
    {
        var listener = new TcpListener(IPAddress.Loopback, FreePort.Next());
        listener.Start();
        return new Listener(listener);
    }

    private sealed class Listener(TcpListener listener) : IDisposable
    {
        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public void Dispose() => listener.Dispose();
    }
}
