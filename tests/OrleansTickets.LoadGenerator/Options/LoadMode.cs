namespace OrleansTickets.LoadGenerator.Options;

/// <summary>What the generator drives.</summary>
public enum LoadMode
{
    /// <summary>Buys a whole event until every ticket type is sold out, then verifies the sale.</summary>
    Orders,

    /// <summary>Posts order bodies at a fixed path for a fixed time: the HTTP floor of a bare endpoint.</summary>
    Bare,

    /// <summary>Checks a finished sale against the PostgreSQL shard databases themselves (see scripts/chaos.sh).</summary>
    Audit,

    /// <summary>Checks a sale another client made, from the orders it was acknowledged, against <c>/sales</c>.</summary>
    Verify,
}
