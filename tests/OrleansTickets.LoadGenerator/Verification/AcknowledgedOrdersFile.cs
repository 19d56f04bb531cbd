using System.Text.Json;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>The acknowledged orders of a run, kept on disk so an audit can look for each one in the databases.</summary>
public static class AcknowledgedOrdersFile
{
    public static async Task WriteAsync(string? path, IReadOnlyList<AcknowledgedOrder> orders)
    {
        if (path is null) return;
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, orders.ToList(), LoadJsonContext.Default.ListAcknowledgedOrder);
    }

    public static async Task<List<AcknowledgedOrder>> ReadAsync(string path)
    {
        await using var file = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync(file, LoadJsonContext.Default.ListAcknowledgedOrder)
            ?? throw new InvalidDataException($"{path} holds no orders");
    }
}
