namespace OrleansTickets.Tests.Infrastructure;

/// <summary>An exception and the ones beneath it, for tests that must know why a call failed, not only that it did.</summary>
public static class ExceptionCauses
{
    /// <summary><paramref name="error"/>, then its inner exception, and so on down.</summary>
    public static IEnumerable<Exception> Of(Exception error)
    {
        for (var cause = error; cause is not null; cause = cause.InnerException) yield return cause;
    }
}
