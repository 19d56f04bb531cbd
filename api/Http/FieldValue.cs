namespace OrleansTickets.Api.Http;

/// <summary>A request header's value as HTTP means it, whichever protocol carried it.</summary>
public static class FieldValue
{
    private static readonly char[] Whitespace = [' ', '\t'];

    /// <summary><paramref name="value"/> without the spaces and tabs around it.</summary>
    /// <remarks>
    /// They are not part of a field's value (RFC 9110, section 5.5). HTTP/1.1's parser drops them, but HTTP/2 carries
    /// them through and a gateway may pass them on, so a header the API compares must drop them itself: kept, a key
    /// "k1 " and its retry "k1" were two keys (a second order), and a padded operator key was refused.
    /// </remarks>
    public static string Trim(string value) => value.Trim(Whitespace);
}
