using System.Diagnostics;
using System.Text;
using Npgsql;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL 15 cluster in a temporary folder, listening on a free loopback port.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root, so when the tests run as root every server command goes
/// through <c>runuser -u postgres</c> and the folder is handed to that user. Durability settings
/// stay at their safe values (fsync, synchronous_commit) so fault tests observe real behaviour.
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);
    private static readonly Lazy<string?> BinDirectory = new(FindBinDirectory);
    private static readonly Lazy<Task> StaleServers = new(() => Task.Run(StopStaleServersAsync));

    private readonly string _root;
    private readonly string _encoding;
    private int _port;

    /// <summary>Creates a server object; nothing touches the disk until <see cref="StartAsync"/>.</summary>
    /// <param name="encoding">
    /// The encoding of the databases the server creates by default (its template databases). UTF-8 unless a test needs
    /// a server set up otherwise, such as an older one in LATIN1.
    /// </param>
    public PostgresServer(string encoding = "UTF8")
    {
        _root = Path.Combine(Path.GetTempPath(), "orleanstickets-pg-" + Guid.NewGuid().ToString("N")[..12]);
        _encoding = encoding;
    }

    /// <summary>Whether the PostgreSQL binaries (and, as root, <c>runuser</c>) are installed.</summary>
    public static bool IsAvailable => BinDirectory.Value is not null && (!IsRoot || File.Exists("/usr/sbin/runuser") || File.Exists("/sbin/runuser"));

    /// <summary>
    /// Whether a missing PostgreSQL must fail tests instead of skipping them: <c>CI</c> set to anything but empty,
    /// <c>false</c> or <c>0</c> (CI systems write it as <c>true</c>, <c>1</c> or <c>True</c>).
    /// </summary>
    public static bool IsCi => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci
        && !ci.Equals("false", StringComparison.OrdinalIgnoreCase) && ci != "0";

    /// <summary>The TCP port the server listens on; valid after <see cref="StartAsync"/>.</summary>
    public int Port => _port;

    /// <summary>The data folder; the Unix socket lives there too.</summary>
    public string DataDirectory => Path.Combine(_root, "data");

    private static bool IsRoot => Environment.IsPrivilegedProcess;

    private string LogFile => Path.Combine(_root, "server.log");

    /// <summary>An Npgsql connection string for <paramref name="database"/> as the superuser.</summary>
    /// <param name="database">The database to connect to.</param>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={_port};Username={SuperUser};Database={database}";

    /// <summary>Creates the cluster and starts it.</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed, or it failed to start.</exception>
    public async Task StartAsync()
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException(
                "PostgreSQL 15 binaries (initdb, pg_ctl, postgres) were not found in $POSTGRES_BIN_DIR, /usr/lib/postgresql/15/bin " +
                "or on PATH (or runuser is missing and the tests run as root).");
        }

        await StaleServers.Value.ConfigureAwait(false);
        Directory.CreateDirectory(_root);
        await File.WriteAllTextAsync(OwnerFile(_root), Environment.ProcessId.ToString()).ConfigureAwait(false);
        if (IsRoot)
        {
            await RunAsync("chown", [SuperUser + ":" + SuperUser, _root]).ConfigureAwait(false);
        }

        // --no-sync only skips flushing initdb's own files: a throwaway cluster need not survive a
        // power cut during creation. The running server keeps fsync on.
        await RunAsServerUserAsync(Tool("initdb"),
            ["-D", DataDirectory, "--auth=trust", "-U", SuperUser, "--encoding=" + _encoding, "--locale=C", "--no-sync"]).ConfigureAwait(false);

        // A port found free can still be taken by someone else before the server binds it.
        for (var attempt = 1; ; attempt++)
        {
            _port = FreePort.Next();
            await WriteSettingsAsync().ConfigureAwait(false);
            try
            {
                await PgCtlAsync("start", "-l", LogFile).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>Stops and starts the server on the same port and data.</summary>
    /// <param name="immediate">Stop like a crash (no checkpoint), so the start runs WAL recovery.</param>
    public async Task RestartAsync(bool immediate = false)
    {
        await PgCtlAsync("stop", "-m", immediate ? "immediate" : "fast").ConfigureAwait(false);
        await PgCtlAsync("start", "-l", LogFile).ConfigureAwait(false);
        // Pooled connections to this server died with it, so drop them all: idle ones are closed now, busy ones when
        // given back. Other collections' idle connections to their own servers go too, and they just reconnect.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Creates <paramref name="database"/> (UTF-8, unless told otherwise) on this server.</summary>
    /// <param name="database">A plain identifier: letters, digits and underscores.</param>
    /// <param name="encoding">Its encoding: a PostgreSQL encoding name, such as LATIN1.</param>
    public async Task CreateDatabaseAsync(string database, string encoding = "UTF8")
    {
        if (encoding.Length == 0 || !encoding.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException("Use letters, digits and underscores only.", nameof(encoding));
        }
        if (database.Length == 0 || !database.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException("Use letters, digits and underscores only.", nameof(database));
        }

        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{database}\" ENCODING '{encoding}' TEMPLATE template0", connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Lets clients connect to <paramref name="database"/> again, or cuts it off as an outage would: no new
    /// connections, and the sessions it has are ended.
    /// </summary>
    public async Task SetConnectionsAsync(string database, bool allowed)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync().ConfigureAwait(false);
        await using (var alter = new NpgsqlCommand($"ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {(allowed ? "true" : "false")}", connection))
        {
            await alter.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        if (allowed) return;
        await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @database", connection);
        terminate.Parameters.AddWithValue("database", database);
        await terminate.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    /// <summary>The names of the databases whose names start with <paramref name="prefix"/>, in order.</summary>
    public async Task<List<string>> DatabasesStartingWithAsync(string prefix)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync().ConfigureAwait(false);
        await using var list = new NpgsqlCommand("SELECT datname FROM pg_database WHERE starts_with(datname, @prefix) ORDER BY datname", connection);
        list.Parameters.AddWithValue("prefix", prefix);
        var names = new List<string>();
        await using var reader = await list.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false)) names.Add(reader.GetString(0));
        return names;
    }

    /// <summary>Stops the server (fast shutdown) and deletes its folder.</summary>
    public async Task StopAsync()
    {
        try
        {
            await StopServerAsync(DataDirectory).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }
    }

    /// <summary>
    /// Stops the server of <paramref name="dataDirectory"/>, if one runs: fast, then immediate, then by killing the
    /// postmaster, so a folder is never deleted under a server that would go on holding its port and shared memory.
    /// </summary>
    private static async Task StopServerAsync(string dataDirectory)
    {
        // The pid file, not a flag, decides: a start that timed out may still have left a server running.
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return;
        try
        {
            await PgCtlAsync(dataDirectory, "stop", waitSeconds: 60, "-m", "fast").ConfigureAwait(false);
            return;
        }
        catch (InvalidOperationException)
        {
        }
        try
        {
            await PgCtlAsync(dataDirectory, "stop", waitSeconds: 30, "-m", "immediate").ConfigureAwait(false);
            return;
        }
        catch (InvalidOperationException) when (File.Exists(pidFile))
        {
            // The file's first line is the postmaster's pid. Killed only when that process is this folder's server: after a
            // reboot the pid may belong to anything. Its backends leave once they see the postmaster gone.
            if (int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var pid) && IsServerOf(pid, dataDirectory))
            {
                try
                {
                    using var postmaster = Process.GetProcessById(pid);
                    postmaster.Kill();
                    await postmaster.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                }
                catch (ArgumentException)
                {
                    // Not running any more.
                }
            }
        }
    }

    /// <summary>Whether process <paramref name="pid"/> is a postgres server started on <paramref name="dataDirectory"/>.</summary>
    private static bool IsServerOf(int pid, string dataDirectory)
    {
        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return commandLine.Length > 0 && Path.GetFileName(commandLine[0]) == "postgres" && commandLine.Contains(dataDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Stops the servers and deletes the folders that test processes no longer running left behind (a test host killed
    /// by a hang timeout or a CI cancel never reaches its fixture's dispose, and pg_ctl's server outlives it).
    /// </summary>
    /// <remarks>
    /// A folder is judged by the process id its creator wrote first thing; one without it (still being created by a
    /// live process, or from before the owner file) is left alone.
    /// </remarks>
    private static async Task StopStaleServersAsync()
    {
        foreach (var root in Directory.EnumerateDirectories(Path.GetTempPath(), "orleanstickets-pg-*"))
        {
            try
            {
                if (!int.TryParse(await File.ReadAllTextAsync(OwnerFile(root)).ConfigureAwait(false), out var owner) || IsRunning(owner)) continue;
                await StopServerAsync(Path.Combine(root, "data")).ConfigureAwait(false);
                Directory.Delete(root, recursive: true);
            }
            catch (Exception)
            {
                // Another test process is cleaning it at the same moment, or it cannot be (not ours to stop): it costs
                // disk, not a result, and no test may fail for it.
            }
        }
    }

    private static string OwnerFile(string root) => Path.Combine(root, "owner.pid");

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <inheritdoc cref="StopAsync"/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private Task WriteSettingsAsync()
    {
        // postgresql.conf keeps the last value of a setting, so these override initdb's defaults.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# OrleansTickets test server")
            .AppendLine("listen_addresses = '127.0.0.1'")
            .AppendLine($"port = {_port}")
            .AppendLine($"unix_socket_directories = '{DataDirectory}'")
            .AppendLine("fsync = on")
            .AppendLine("synchronous_commit = on")
            .AppendLine("max_connections = 300")
            // Far from UTC, and not by whole hours: a timestamp bound or read without its zone would be off by
            // 12:45 or 13:45 here, and the membership tests see it (checked with Npgsql's legacy timestamp switch
            // on), where a UTC server hides it.
            .AppendLine("timezone = 'Pacific/Chatham'");
        return File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), settings.ToString());
    }

    private Task PgCtlAsync(string action, params string[] extra) => PgCtlAsync(DataDirectory, action, waitSeconds: 60, extra);

    /// <summary>Runs <c>pg_ctl</c> on <paramref name="dataDirectory"/>; a failure carries the server's log, kept beside the data folder.</summary>
    private static async Task PgCtlAsync(string dataDirectory, string action, int waitSeconds, params string[] extra)
    {
        var logFile = Path.Combine(Path.GetDirectoryName(dataDirectory)!, "server.log");
        try
        {
            await RunAsServerUserAsync(Tool("pg_ctl"), ["-D", dataDirectory, "-w", "-t", waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra, action]).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (File.Exists(logFile))
        {
            throw new InvalidOperationException($"{ex.Message}{Environment.NewLine}server.log:{Environment.NewLine}{await File.ReadAllTextAsync(logFile).ConfigureAwait(false)}", ex);
        }
    }

    private static string Tool(string name) => Path.Combine(BinDirectory.Value!, name);

    private static string? FindBinDirectory()
    {
        // POSTGRES_BIN_DIR pins one folder, for other installs (and to rehearse the "missing" path).
        var pinned = Environment.GetEnvironmentVariable("POSTGRES_BIN_DIR");
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(pinned))
        {
            candidates.Add(pinned);
        }
        else
        {
            candidates.Add("/usr/lib/postgresql/15/bin");
            candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        return candidates.FirstOrDefault(dir =>
            new[] { "initdb", "pg_ctl", "postgres" }.All(tool => File.Exists(Path.Combine(dir, tool))));
    }

    private static Task RunAsServerUserAsync(string tool, string[] arguments) =>
        IsRoot ? RunAsync("runuser", ["-u", SuperUser, "--", tool, .. arguments]) : RunAsync(tool, arguments);

    /// <summary>Runs a tool to its end, within a time limit, and fails with its output if it exits with an error.</summary>
    internal static async Task RunAsync(string fileName, string[] arguments)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // The server user cannot read root's home; a neutral working folder avoids "could not
            // change directory" noise and failures.
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} timed out after {CommandTimeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{fileName} {string.Join(' ', arguments)} exited with {process.ExitCode}:{Environment.NewLine}{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }
    }
}
