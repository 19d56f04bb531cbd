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
        using var taken = Occupied();
        await StartWithAsync([() => (taken.Port, FreePort.Next()), () => (FreePort.Next(), FreePort.Next())], async copy =>
        {
            // The copy answers over HTTP, with a silo behind its API.
            await ApiContractTests.AssertProblemAsync(await copy.Client.GetAsync("/api/events/nothing-here"), HttpStatusCode.NotFound, "event-not-found");
        });
    }

    [Fact]
    public async Task A_copy_whose_gateway_port_was_taken_leaves_nothing_listening_on_the_silo_port_of_its_failed_try()
    {
        using var taken = Occupied();
        var firstSiloPort = FreePort.Next();
        await StartWithAsync([() => (firstSiloPort, taken.Port), () => (FreePort.Next(), FreePort.Next())], copy =>
        {
            // Orleans binds the silo's and the gateway's listeners side by side, and refuses to stop a silo that never
            // ran: left to that stop, the silo's listener went on accepting connections until the process ended.
            using var probe = new TcpListener(IPAddress.Loopback, firstSiloPort);
            probe.Start();
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task A_copy_that_finds_every_port_it_is_given_taken_gives_up_after_its_tries_with_address_in_use()
    {
        using var limit = new CancellationTokenSource(Limit);
        using var taken = Occupied();
        var offers = 0;
        var scratch = NewScratch();
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

    /// <summary>
    /// Starts a copy on new scratch storage with the ports of <paramref name="offers"/>, one pair per try, checks that
    /// it took every pair, runs <paramref name="check"/> on it, and deletes the scratch storage.
    /// </summary>
    private static async Task StartWithAsync(Func<(int, int)>[] offers, Func<RehearsalSilo, Task> check)
    {
        using var limit = new CancellationTokenSource(Limit);
        var left = new Queue<Func<(int, int)>>(offers);
        var scratch = NewScratch();
        try
        {
            await using var copy = await RehearsalSilo.StartAsync(EmptyConfiguration, scratch.Settings, () => left.Dequeue()(), limit.Token);
            Assert.Empty(left);
            await check(copy);
        }
        finally
        {
            await scratch.DisposeAsync();
        }
    }

    // SQLite scratch storage in a new folder under the system's temporary folder, deleted with it.
    private static ScratchStorage NewScratch() => ScratchStorage.For(new TicketStorageOptions());

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
