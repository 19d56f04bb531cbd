namespace OrleansTickets.Diagnostics;

/// <summary>Why a shard gave tickets to another, as <see cref="SaleMetrics"/> reports it.</summary>
public enum TransferReason
{
    /// <summary>A receiver serving an order asked for what it lacked.</summary>
    Pull,

    /// <summary>A shard with fewer tickets than one order handed them to its type's collector.</summary>
    Gather,

    /// <summary>An operator drained the shard.</summary>
    Drain,
}
