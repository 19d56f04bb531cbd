using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace OrleansTickets.Tests.Infrastructure;

/// <summary>A JSON body whose first byte is sent at once and the rest when the gate opens: a body still arriving.</summary>
public sealed class HeldBody : HttpContent
{
    private readonly byte[] _body;
    private readonly Task _gate;

    public HeldBody(string json, Task gate)
    {
        _body = Encoding.UTF8.GetBytes(json);
        _gate = gate;
        Headers.ContentType = new MediaTypeHeaderValue("application/json");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    // The body honours the request's cancellation: a client that gives up a request it is still sending waits for
    // the body first.
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(_body.AsMemory(0, 1), cancellationToken);
        await stream.FlushAsync(cancellationToken);
        await _gate.WaitAsync(cancellationToken);
        await stream.WriteAsync(_body.AsMemory(1), cancellationToken);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _body.Length;
        return true;
    }
}
