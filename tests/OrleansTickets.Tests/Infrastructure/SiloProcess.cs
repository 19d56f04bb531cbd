using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>The built silo (OrleansTickets.Silo.dll) as a real operating-system process, for stop/kill/restart tests.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, Uri address)
    {
        _process = process;
        Client = new HttpClient { BaseAddress = address };
    }

    public HttpClient Client { get; }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>
    /// Starts the built silo with its shipped settings, on <paramref name="storage"/>. The shipped on-sale rehearsal
    /// runs as in production, only smaller (<paramref name="settings"/> may change that too), so tests start quickly.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(TestStorage storage, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var port = FreePort.Next();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "OrleansTickets.Silo.dll"));
        var merged = new Dictionary<string, string?>(storage.Settings)
        {
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Cluster:SiloPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Cluster:GatewayPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
            ["Rehearsal:Tickets"] = "1000",
            ["Rehearsal:Buyers"] = "16",
            ["Rehearsal:SettleSeconds"] = "1",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) merged[key] = value;
        foreach (var (key, value) in merged)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }
        var process = Process.Start(start)!;
        var silo = new SiloProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => silo.Append(e.Data);
        process.ErrorDataReceived += (_, e) => silo.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await silo.WaitUntilServingAsync();
        return silo;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private async Task WaitUntilServingAsync()
    {
        // A cold process that rehearses first, while the rest of the suite holds both cores.
        var deadline = DateTime.UtcNow.AddSeconds(180);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException("The silo exited:\n" + Output);
            try
            {
                var probe = await Client.GetAsync("/api/events/readiness-probe");
                if (probe.StatusCode == HttpStatusCode.NotFound) return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("The silo did not start serving:\n" + Output);
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly like a crash.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }
}
