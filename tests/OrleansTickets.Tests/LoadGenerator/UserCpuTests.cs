using OrleansTickets.LoadGenerator.Measurement;

namespace OrleansTickets.Tests.LoadGenerator;

/// <summary>Summing the CPU time of one user's processes, for the database server's CPU per order.</summary>
public sealed class UserCpuTests
{
    [Fact]
    public void A_user_is_found_by_name_in_passwd_text()
    {
        const string passwd = "root:x:0:0:root:/root:/bin/bash\npostgresql:x:107:115::/x:/bin/false\npostgres:x:106:114:PostgreSQL:/var/lib/postgresql:/bin/bash\n";
        Assert.Equal(106, UserCpu.UidOf("postgres", passwd));
        Assert.Equal(0, UserCpu.UidOf("root", passwd));
        Assert.Null(UserCpu.UidOf("nobody-here", passwd));
    }

    [Fact]
    public void The_real_uid_is_the_first_of_the_status_uid_line()
    {
        const string status = "Name:\tpostgres\nUmask:\t0077\nState:\tS (sleeping)\nUid:\t106\t0\t106\t106\nGid:\t114\t114\t114\t114\n";
        Assert.Equal(106, UserCpu.RealUid(status));
        Assert.Null(UserCpu.RealUid("Name:\tx\nGid:\t1\t1\t1\t1\n"));
    }

    [Fact]
    public void This_process_user_has_used_some_cpu_and_an_unknown_user_none()
    {
        // The tests run as some user with a passwd entry (root here and in CI), and this process is one of theirs.
        // Read this process first: it keeps running, so the user's sum read after it can only be larger.
        var own = ProcessCpu.Read(Environment.ProcessId);
        Assert.True(own > TimeSpan.Zero, "a running test process has used no CPU by its own reading");
        Assert.True(UserCpu.Read(Environment.UserName) >= own);
        Assert.Null(UserCpu.Read("no-such-user-" + Guid.NewGuid().ToString("N")));
    }

    [Fact]
    public void A_user_who_runs_nothing_has_no_reading_rather_than_none_used()
    {
        // A database server started as another user than the one asked for must not read as a server that used 0 s.
        var running = Directory.EnumerateDirectories("/proc")
            .Where(d => Path.GetFileName(d).All(char.IsAsciiDigit))
            .Select(d => ProcFiles.ReadOrNull($"{d}/status") is { } status ? UserCpu.RealUid(status) : null)
            .ToHashSet();
        var idle = File.ReadAllLines("/etc/passwd").Select(line => line.Split(':'))
            .First(fields => fields.Length > 2 && !running.Contains(int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture)))[0];
        Assert.Null(UserCpu.Read(idle));
    }
}
