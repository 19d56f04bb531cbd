using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>A JSON body whose first byte is sent at once (unless held too) and the rest when the gate opens: a body still arriving.</summary>
public sealed class HeldBody : HttpContent
{
    private readonly byte[] _body;
    private readonly Task _gate;

    private readonly int _sentFirst;

    /// <param name="json">The body.</param>
    /// <param name="gate">Its bytes after the first are sent once this completes.</param>
    /// <param name="holdsFirstByte">Whether the first byte waits for the gate too: the server then has headers that declare a body and no byte of it.</param>
    public HeldBody(string json, Task gate, bool holdsFirstByte = false)
    {
        _body = Encoding.UTF8.GetBytes(json);
        _gate = gate;
        _sentFirst = holdsFirstByte ? 0 : 1;
        Headers.ContentType = new MediaTypeHeaderValue("application/json");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    // The body honours the request's cancellation: a client that gives up a request it is still sending waits for
    // the body first.
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(_body.AsMemory(0, _sentFirst), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        await stream.WriteAsync(_body.AsMemory(_sentFirst), cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length;
        return true;
    }
}
