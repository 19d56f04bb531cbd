using System.Net;
using Microsoft.Data.Sqlite;
using OrleansTickets.Tests.Http;
using OrleansTickets.Storage;
using OrleansTickets.Tests.Infrastructure;

namespace OrleansTickets.Tests.Storage;

/// <summary>
/// A SQLite shard database's files moved or removed under a running writer (a data folder cleaned up, a backup put in
/// its place): SQLite goes on committing into the files it holds open, whose orders vanish when the process ends, so the
/// writer checks after each COMMIT that the path still names them, and acknowledges nothing once it does not.
/// </summary>
public sealed class SqliteFilesMovedTests
{
    [Fact]
    public async Task A_commit_after_the_files_are_deleted_is_not_acknowledged_and_the_database_takes_nothing_more()
    {
        await using var shard = await SoldShard.StartAsync();
        var (context, ledger, path) = (shard.Context, shard.Ledger, shard.Path);
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);

        var moved = await Assert.ThrowsAsync<ShardDatabaseFilesMovedException>(() => ledger.CommitAsync(context.Batch(ledger, 3)));

        Assert.Contains(path, moved.Message);
        // Where the process still holds the files, so that they can be copied back before it stops.
        if (OperatingSystem.IsLinux()) Assert.Contains("/proc/", moved.Message);
        Assert.Contains(context.Logs.Lines, line => line.Contains("moved or removed under the running service", StringComparison.Ordinal));
        // From then on every write is refused before it starts, a claim (a shard's reload) included: a definite "nothing
        // written" that buyers can be routed around, while the open files keep what was committed.
        context.Forget(3);
        await Assert.ThrowsAsync<ShardDatabaseUnavailableException>(() => ledger.CommitAsync(context.Batch(ledger, 1)));
        context.Forget(1);
        await Assert.ThrowsAsync<ShardDatabaseUnavailableException>(context.ClaimAsync);
    }

    [LinuxFact] // /proc/<pid>/fd is Linux's.
    public async Task Files_copied_out_of_the_process_and_put_back_after_it_stops_hold_every_order_committed_to_them()
    {
        // What README tells an operator to do: the refused group's orders were committed, only to files the path no
        // longer named, so "outcome unknown" is the truth and the copies recover them.
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        var path = DatabasePath(storage);
        var safe = Directory.CreateTempSubdirectory("orleans-tickets-moved-");
        try
        {
            await using (var context = new SqliteShardContext(storage))
            {
                var ledger = await context.ClaimAsync();
                await context.SellAsync(ledger, 5);
                foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);
                await Assert.ThrowsAsync<ShardDatabaseFilesMovedException>(() => ledger.CommitAsync(context.Batch(ledger, 3)));

                // Copied somewhere else first: a connection closing at the stop deletes the log at the path.
                foreach (var suffix in new[] { "", "-wal" })
                {
                    var held = new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
                        .First(fd => fd.LinkTarget == $"{path}{suffix} (deleted)");
                    File.Copy(held.FullName, Path.Combine(safe.FullName, Path.GetFileName(path) + suffix));
                }
            }
            foreach (var copy in safe.EnumerateFiles()) copy.MoveTo(Path.Combine(Path.GetDirectoryName(path)!, copy.Name), overwrite: true);

            await using var again = new SqliteShardContext(storage);
            await again.ClaimAsync();
            Assert.Equal((8L, 8L), (await again.CountAsync("SELECT sold FROM shard_state"), await again.CountAsync("SELECT COUNT(*) FROM orders")));
        }
        finally
        {
            safe.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_database_file_replaced_by_an_older_copy_is_found_at_the_next_commit()
    {
        // A file still at the path, but not the one the writer holds: only the file's identity tells them apart.
        await using var shard = await SoldShard.StartAsync();
        var (context, ledger, path) = (shard.Context, shard.Ledger, shard.Path);
        File.Copy(path, path + ".backup");
        await context.SellAsync(ledger, 5);
        File.Move(path + ".backup", path, overwrite: true);

        var moved = await Assert.ThrowsAsync<ShardDatabaseFilesMovedException>(() => ledger.CommitAsync(context.Batch(ledger, 3)));

        Assert.Contains(path, moved.Message);
    }

    [Fact]
    public async Task A_commit_after_only_the_write_ahead_log_is_deleted_is_not_acknowledged()
    {
        // The commits since the last checkpoint live in the log alone.
        await using var shard = await SoldShard.StartAsync();
        var (context, ledger, path) = (shard.Context, shard.Ledger, shard.Path);
        File.Delete(path + "-wal");

        await Assert.ThrowsAsync<ShardDatabaseFilesMovedException>(() => ledger.CommitAsync(context.Batch(ledger, 3)));
    }

    [Fact]
    public async Task A_write_ahead_log_deleted_and_made_again_by_another_connection_is_still_found()
    {
        // A connection opening the database after the log was deleted makes a new, empty log at its path: a file is
        // there again, while the writer's commits go into the deleted one.
        await using var shard = await SoldShard.StartAsync();
        var (context, ledger, path) = (shard.Context, shard.Ledger, shard.Path);
        File.Delete(path + "-wal");
        await using (var reader = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await reader.OpenAsync();
            await using var read = reader.CreateCommand();
            read.CommandText = "SELECT COUNT(*) FROM shard_state";
            // The shared index still describes the deleted log's frames, which the new one lacks: SQLite refuses the read
            // (disk I/O error), having made the file.
            await Record.ExceptionAsync(() => read.ExecuteScalarAsync());
        }
        Assert.True(File.Exists(path + "-wal"), "No connection made the log again: this test shows nothing.");

        await Assert.ThrowsAsync<ShardDatabaseFilesMovedException>(() => ledger.CommitAsync(context.Batch(ledger, 3)));
    }

    [Fact]
    public async Task Files_left_in_place_are_acknowledged_commit_after_commit()
    {
        // The check's other side: a checkpoint that copies the whole log keeps the log file, so it never reads as removed.
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        storage.Settings["Storage:SqliteCheckpointPages"] = "16";
        await using var context = new SqliteShardContext(storage);
        var ledger = await context.ClaimAsync();
        for (var round = 0; round < 10; round++) await context.SellAsync(ledger, 20);

        Assert.Equal(200L, await context.CountAsync("SELECT sold FROM shard_state"));
    }

    [Fact]
    public async Task Buyers_are_not_told_created_for_orders_that_went_into_files_removed_under_the_service()
    {
        using var storage = TestStorage.Sqlite(maxShardDatabases: 1);
        await using var host = await ApiHost.StartAsync(storage);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.CreateEventAsync("moved", capacity: 10, shards: 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await host.Client.OrderAsync("moved", 1, key: "before")).StatusCode);
        var path = DatabasePath(storage);
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);

        // Its commit went into the removed files: whether it lasts depends on someone putting them back.
        var after = await host.Client.OrderAsync("moved", 1, key: "after");
        await ApiContractTests.AssertProblemAsync(after, HttpStatusCode.ServiceUnavailable, "outcome-unknown");
        // Asked again, and by another buyer: nothing more is written there.
        await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("moved", 1, key: "after"), HttpStatusCode.ServiceUnavailable, "unavailable");
        await ApiContractTests.AssertProblemAsync(await host.Client.OrderAsync("moved", 1, key: "later"), HttpStatusCode.ServiceUnavailable, "unavailable");
    }

    /// <summary>One SQLite shard database with 5 orders committed: what each test moves files under.</summary>
    private sealed class SoldShard(TestStorage storage, SqliteShardContext context) : IAsyncDisposable
    {
        public SqliteShardContext Context { get; } = context;

        public ShardLedger Ledger { get; private set; } = null!;

        public string Path { get; } = DatabasePath(storage);

        public static async Task<SoldShard> StartAsync()
        {
            var storage = TestStorage.Sqlite(maxShardDatabases: 1);
            var shard = new SoldShard(storage, new SqliteShardContext(storage));
            try
            {
                shard.Ledger = await shard.Context.ClaimAsync();
                await shard.Context.SellAsync(shard.Ledger, 5);
                return shard;
            }
            catch
            {
                await shard.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Context.DisposeAsync();
            storage.Dispose();
        }
    }

    private static string DatabasePath(TestStorage storage) => Path.Combine(storage.Folder!, "shards", "shard_0000.db");
}
