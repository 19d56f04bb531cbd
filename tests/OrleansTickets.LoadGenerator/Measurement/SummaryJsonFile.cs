using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansTickets.LoadGenerator.Measurement;

/// <summary>Writes the final numbers for scripts (<c>--summary-json</c>).</summary>
public static class SummaryJsonFile
{
    public static async Task WriteAsync<T>(string? path, T summary, JsonTypeInfo<T> typeInfo)
    {
        if (path is null) return;
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, summary, typeInfo);
        Console.WriteLine($"summary written to {path}");
    }
}
