using System.Buffers.Binary;
using System.Text.Json;
using OrleansTickets.LoadGenerator.Http;
using OrleansTickets.LoadGenerator.Verification;

namespace OrleansTickets.LoadGenerator.Orders;

/// <summary>
/// One buyer's acknowledged orders, kept during the sale as the bytes of each answer and of the request that got it,
/// and read back into <see cref="AcknowledgedOrder"/>s after it.
/// </summary>
/// <remarks>
/// Parsed orders kept in a list survived every collection of the generator's heap: each collection copied every order
/// acknowledged since the one before, some ten objects each. On two cores that took 25–50 ms once a second, and every
/// request in flight looked that much slower: the run's p99 measured the generator, not the service (docs/benchmarks.md,
/// thirty-fourth session). Bytes in a few arrays are one object per chunk, with no references for a collection to follow.
/// Not thread-safe: its buyer has one request in flight at a time.
/// </remarks>
public sealed class AcknowledgedOrderJournal
{
    // Chunks grow from small (most tests' buyers hold a handful of orders) to past the large-object threshold,
    // where they are never copied again.
    private const int FirstChunkBytes = 4 * 1024;
    private const int LargestChunkBytes = 128 * 1024;

    private readonly List<byte[]> _chunks = [];
    // Bytes used in each chunk: a chunk's unused tail is not read as records.
    private readonly List<int> _used = [];

    public int Count { get; private set; }

    /// <summary>Keeps an acknowledged order: <paramref name="answer"/> is its response body, <paramref name="request"/> the body that asked for it.</summary>
    public void Add(ReadOnlySpan<byte> answer, ReadOnlySpan<byte> request)
    {
        if (answer.IsEmpty) throw new ArgumentException("An acknowledged order has a body.", nameof(answer));
        var size = sizeof(int) + answer.Length + sizeof(int) + request.Length;
        if (_chunks.Count == 0 || _chunks[^1].Length - _used[^1] < size)
        {
            var next = _chunks.Count == 0 ? FirstChunkBytes : Math.Min(_chunks[^1].Length * 2, LargestChunkBytes);
            _chunks.Add(new byte[Math.Max(next, size)]);
            _used.Add(0);
        }
        var target = _chunks[^1].AsSpan(_used[^1], size);
        BinaryPrimitives.WriteInt32LittleEndian(target, answer.Length);
        answer.CopyTo(target[sizeof(int)..]);
        BinaryPrimitives.WriteInt32LittleEndian(target[(sizeof(int) + answer.Length)..], request.Length);
        request.CopyTo(target[(2 * sizeof(int) + answer.Length)..]);
        _used[^1] += size;
        Count++;
    }

    /// <summary>Every order kept, in the order kept, each with what its request asked for.</summary>
    public IReadOnlyList<AcknowledgedOrder> Read()
    {
        var orders = new List<AcknowledgedOrder>(Count);
        for (var c = 0; c < _chunks.Count; c++)
        {
            var chunk = _chunks[c].AsSpan(0, _used[c]);
            while (chunk.Length > 0)
            {
                var answerLength = BinaryPrimitives.ReadInt32LittleEndian(chunk);
                var answer = chunk.Slice(sizeof(int), answerLength);
                var requestLength = BinaryPrimitives.ReadInt32LittleEndian(chunk[(sizeof(int) + answerLength)..]);
                var request = chunk.Slice(2 * sizeof(int) + answerLength, requestLength);
                chunk = chunk[(2 * sizeof(int) + answerLength + requestLength)..];
                // Both were read once already, when the order was acknowledged and when the request was made.
                var order = JsonSerializer.Deserialize(answer, LoadJsonContext.Default.AcknowledgedOrder)!;
                var asked = JsonSerializer.Deserialize(request, LoadJsonContext.Default.OrderBody)!;
                orders.Add(order with { Requested = new OrderRequested(asked.TicketTypeId, asked.Quantity, asked.Buyer.Name, asked.Buyer.Email) });
            }
        }
        return orders;
    }
}
