using System.Text.Json;
using OrleansTickets.LoadGenerator.Http;

namespace OrleansTickets.LoadGenerator.Verification;

/// <summary>
/// The acknowledged orders of a run, kept on disk so a sale can be checked afterwards: as one JSON array (what an
/// orders run writes) or as one order per line (what another client writes, response body after response body:
/// <c>scripts/wrk/sellout.lua</c>). A body's request is the one its buyer states (<see cref="StatedRequest"/>).
/// </summary>
public static class AcknowledgedOrdersFile
{
    public static async Task WriteAsync(string? path, IReadOnlyList<AcknowledgedOrder> orders)
    {
        if (path is null) return;
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, orders.ToList(), LoadJsonContext.Default.ListAcknowledgedOrder);
    }

    /// <summary>The orders in <paramref name="path"/>, or null (said on stderr) when the file cannot be read as orders.</summary>
    public static async Task<List<AcknowledgedOrder>?> TryReadAsync(string path)
    {
        try
        {
            return await ReadAsync(path);
        }
        catch (Exception exception) when (exception is IOException or InvalidDataException or UnauthorizedAccessException or JsonException)
        {
            Console.Error.WriteLine($"cannot read the acknowledged orders: {exception.Message}");
            return null;
        }
    }

    /// <summary>The orders in <paramref name="path"/>; an <see cref="InvalidDataException"/> names the first line that is not one.</summary>
    public static async Task<List<AcknowledgedOrder>> ReadAsync(string path)
    {
        var text = await File.ReadAllTextAsync(path);
        if (text.TrimStart().StartsWith('['))
        {
            return JsonSerializer.Deserialize(text, LoadJsonContext.Default.ListAcknowledgedOrder)
                ?? throw new InvalidDataException($"{path} holds no orders");
        }
        var orders = new List<AcknowledgedOrder>();
        var number = 0;
        foreach (var line in text.Split('\n'))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var order = JsonSerializer.Deserialize(line, LoadJsonContext.Default.AcknowledgedOrder)
                    ?? throw new InvalidDataException($"{path}:{number} is null, not an order");
                orders.Add(order with { Requested = StatedRequest.From(order.Buyer) });
            }
            catch (JsonException exception)
            {
                // A body cut short would otherwise be an order silently left out of the checks.
                throw new InvalidDataException($"{path}:{number} is not an acknowledged order: {exception.Message}", exception);
            }
        }
        return orders;
    }
}
