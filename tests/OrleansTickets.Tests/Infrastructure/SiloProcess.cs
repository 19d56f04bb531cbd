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
        var silo = Launch(storage, settings);
        await silo.WaitUntilServingAsync();
        return silo;
    }

    /// <summary>Starts the process as <see cref="StartAsync"/> does, without waiting for it to serve.</summary>
    public static SiloProcess Launch(TestStorage storage, IReadOnlyDictionary<string, string?>? settings = null)
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
        return silo;
    }

    /// <summary>Waits until the process has written <paramref name="text"/>; false when it exits or the wait ends first.</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            if (Output.Contains(text, StringComparison.Ordinal)) return true;
            await Task.Delay(100);
        }
        return Output.Contains(text, StringComparison.Ordinal);
    }

    /// <summary>SIGTERM, as an operator's Ctrl+C or a supervisor's stop; the exit code, or null if it had not exited within <paramref name="wait"/>.</summary>
    public async Task<int?> TerminateAsync(TimeSpan wait)
    {
        using (var signal = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await signal.WaitForExitAsync();
        }
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
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
