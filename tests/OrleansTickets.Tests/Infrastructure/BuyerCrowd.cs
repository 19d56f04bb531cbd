using System.Collections.Concurrent;
using OrleansTickets.Inventory;
using OrleansTickets.Orders;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>
/// A crowd of buyers, their acknowledged orders, and the checks made afterwards from the shard databases. With keys
/// (the default) a buyer retries a key until it gets an answer, as the API tells them to; without, a buyer retries
/// only an answer that says nothing was sold, and an unknown outcome ends its buying (a retry could buy twice).
/// </summary>
public sealed class BuyerCrowd(TicketingCluster cluster, string eventId, string typeId, int capacity, bool withKeys = true)
{
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(90);

    public ConcurrentDictionary<string, OrderDetails> Acknowledged { get; } = new();

    /// <summary>
    /// Attempts that got no answer (an exception, or a retryable status) and were retried: with the same key, or without
    /// one when nothing can have been sold (an "unavailable", or a rejection of a call that never ran).
    /// </summary>
    public ConcurrentQueue<string> Retries { get; } = new();

    /// <summary>Keyless attempts whose outcome is unknown (they may have sold): each ended its buyer's buying.</summary>
    public ConcurrentQueue<string> Unknown { get; } = new();

    private long _unknownQuantity;

    private volatile bool _stopped;
    private int _soldOutAnswers;

    /// <summary>Answers of "sold out" the buyers got (each then asks for fewer, down to none).</summary>
    public int SoldOutAnswers => Volatile.Read(ref _soldOutAnswers);

    /// <summary>
    /// Starts the buyers; they run until sold out, or until <paramref name="stopWhen"/> says so, or for at most
    /// <paramref name="stopWithin"/> (60 s unless given) once <paramref name="stopWhen"/> is set.
    /// </summary>
    public List<Task> Start(int buyers, Func<Task<bool>>? stopWhen = null, TimeSpan? stopWithin = null)
    {
        var tasks = Enumerable.Range(0, buyers).Select(buyer => Task.Run(() => BuyAsync(buyer))).ToList();
        if (stopWhen is not null)
        {
            tasks.Add(Task.Run(async () =>
            {
                var deadline = DateTime.UtcNow + (stopWithin ?? TimeSpan.FromSeconds(60));
                while (!await stopWhen() && DateTime.UtcNow < deadline) await Task.Delay(200);
                _stopped = true;
            }));
        }
        return tasks;
    }

    public async Task WaitForOrdersAsync(int count)
    {
        var deadline = DateTime.UtcNow + GiveUpAfter;
        while (Acknowledged.Count < count && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    private async Task BuyAsync(int buyer)
    {
        var quantity = buyer % 4 + 1;
        for (var n = 0; quantity > 0 && !_stopped; n++)
        {
            var key = $"b{buyer}-{n}";
            var result = await UntilAnsweredAsync(key, quantity);
            if (result is null) return;
            if (result.Status == PurchaseStatus.SoldOut)
            {
                Interlocked.Increment(ref _soldOutAnswers);
                Assert.True(result.Remaining < quantity, $"Refused {quantity} while {result.Remaining} remained.");
                quantity = (int)Math.Min(quantity - 1, result.Remaining);
                continue;
            }
            Assert.True(result.Succeeded, $"Key {key}: {result.Status}");
            Assert.True(Acknowledged.TryAdd(key, result.Order!), $"Key {key} was acknowledged twice.");
        }
    }

    /// <summary>The answer for one order, or null when a keyless attempt's outcome is unknown.</summary>
    private async Task<PurchaseResult?> UntilAnsweredAsync(string key, int quantity)
    {
        var deadline = DateTime.UtcNow + GiveUpAfter;
        while (true)
        {
            try
            {
                var result = await cluster.BuyAsync(eventId, typeId, quantity, withKeys ? key : null);
                if (result.Status is not (PurchaseStatus.Failed or PurchaseStatus.Unavailable)) return result;
                if (result.Status == PurchaseStatus.Failed && !withKeys) return Unknowable(key, quantity, result.Status.ToString());
                Retries.Enqueue($"{key}: {result.Status}");
            }
            // A fault of the cluster (a silo gone, a timeout, a rejected message) is retried with the key; an exception
            // that only a bug throws is not, so that a bug a retry happens to get past still fails the test. Without a
            // key, only a rejection (the call never ran; not a silo declared dead, which may have run it) is safe to send again.
            catch (Exception exception) when (exception is not (NullReferenceException or InvalidCastException or ArgumentException
                or IndexOutOfRangeException or KeyNotFoundException or NotImplementedException or NotSupportedException))
            {
                if (!withKeys && (exception is not OrleansMessageRejectionException || exception is SiloUnavailableException))
                {
                    return Unknowable(key, quantity, exception.GetType().Name);
                }
                Retries.Enqueue($"{key}: {exception.GetType().Name}");
            }
            Assert.True(DateTime.UtcNow < deadline, $"Key {key} got no answer for {GiveUpAfter}.");
            await Task.Delay(50);
        }
    }

    private PurchaseResult? Unknowable(string attempt, int quantity, string why)
    {
        Interlocked.Add(ref _unknownQuantity, quantity);
        Unknown.Enqueue($"{attempt}: {why}");
        return null;
    }

    /// <summary>Sold out exactly, and every acknowledged order is in its shard's database.</summary>
    public async Task VerifyAsync()
    {
        await VerifyAcknowledgedAsync();
        var type = (await cluster.SalesAsync(eventId)).TicketTypes[0];
        Assert.Equal(((long)capacity, (long)capacity, 0L), (type.Capacity, type.Sold, type.Remaining));
    }

    public async Task<List<OrderDetails>> VerifyAcknowledgedAsync()
    {
        var orders = Acknowledged.Values.ToList();
        OrderAssertions.AllSerialsAndCodesUnique(orders);
        foreach (var order in orders)
        {
            Assert.True(OrderId.TryGetShard(order.OrderId, out var holder));
            var stored = await cluster.Client.GetGrain<IInventoryShardGrain>(holder.Key).GetOrder(order.OrderId);
            Assert.Equal(order, stored, OrderComparer.Instance);
        }
        // Nothing sold beyond what buyers hold, and what buyers told "outcome unknown" may hold: no order was made whose
        // answer was lost for good. With keys, or with no unknown outcome, exactly what buyers hold.
        var type = (await cluster.SalesAsync(eventId)).TicketTypes[0];
        var acknowledged = orders.Sum(o => (long)o.Quantity);
        Assert.InRange(type.Sold, acknowledged, acknowledged + Interlocked.Read(ref _unknownQuantity));
        return orders;
    }
}
