using System.Text.Json;

namespace OrleansTickets.Api.Http;

/// <summary>
/// A JSON value that parses but breaks one of the API's own reading rules (<see cref="ExactDecimalConverter"/>): its
/// <see cref="Reason"/> is told to the client, where the serializer's own errors are summed up by where they happened.
/// </summary>
public sealed class BodyRuleException(string reason) : JsonException(reason)
{
    /// <summary>What is wrong with the value, for the problem's detail.</summary>
    public string Reason { get; } = reason;
}
