namespace OrleansTickets.Silo.Rehearsal;

/// <summary>The on-sale rehearsal a silo runs before it starts listening. Bound from the <c>Rehearsal</c> section.</summary>
public sealed class RehearsalOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Rehearsal";

    /// <summary>
    /// Rehearse before listening. On in the shipped <c>appsettings.json</c>; off when unset, so hosts built from
    /// code (tests, tools) start at once unless they ask for it.
    /// </summary>
    public bool Enabled { get; set; }

    /// <summary>Tickets the rehearsal sells out. More tickets warm the code further and delay opening longer.</summary>
    public int Tickets { get; set; } = 30_000;

    /// <summary>Concurrent buyers in the rehearsal.</summary>
    public int Buyers { get; set; } = 128;

    /// <summary>
    /// Smaller sales after the first, a tenth of <see cref="Tickets"/> each (at least <see cref="MinTickets"/>), each
    /// after the JIT settled: they run the end of a sale's code past its second promotion (OnSaleRehearsal). 0 for one sale.
    /// </summary>
    public int EndPasses { get; set; } = 1;

    /// <summary>
    /// The longest the rehearsal's sales (its private silo's start included) may run; past it the silo opens with
    /// whatever warmth it has. Stopping the copy, deleting the scratch storage and <see cref="SettleSeconds"/> come on top,
    /// and so does the sweep before it of scratch storage an earlier run left behind (at most 30 s).
    /// </summary>
    public double TimeLimitSeconds { get; set; } = 60;

    /// <summary>
    /// The longest the silo waits after each of the rehearsal's sales for the JIT to finish optimizing what the sale
    /// made hot (<see cref="JitSettling"/>). Usually a few seconds; 0 opens at once.
    /// </summary>
    public double SettleSeconds { get; set; } = 30;

    /// <summary>
    /// SQLite: the folder under which the rehearsal's scratch folder is made and deleted. Unset: the system's
    /// temporary folder. PostgreSQL keeps scratch databases on the configured server instead.
    /// </summary>
    public string? ScratchPath { get; set; }

    /// <summary>Largest accepted <see cref="TimeLimitSeconds"/> and <see cref="SettleSeconds"/>: an hour.</summary>
    public const double MaxSeconds = 3600;

    /// <summary>Smallest accepted <see cref="Tickets"/>: every type of the rehearsal event needs a few per shard.</summary>
    public const int MinTickets = 1_000;
}
