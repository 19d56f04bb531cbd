namespace OrleansTickets.Api.Http;

/// <summary>Who may use the operators' endpoints: creating events, adding capacity, draining shards.</summary>
/// <remarks>Bound from the <c>Api:Operators</c> configuration section; checked when the host starts.</remarks>
public sealed class OperatorAccessOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Api:Operators";

    /// <summary>The shortest key accepted, so that a key cannot be guessed by trying.</summary>
    public const int MinKeyLength = 16;

    /// <summary>
    /// The secret operators send as <c>Authorization: Bearer &lt;key&gt;</c>. While it is unset, only callers on the
    /// machine itself (loopback) are operators, so a fresh service works out of the box and is still closed to the
    /// network.
    /// </summary>
    public string? Key { get; set; }
}
