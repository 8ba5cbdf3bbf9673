using System.Net;

namespace NotificationService.Adapters.Runtime;

/// <summary>
/// How far one send got, so an aborted attempt is reported truthfully. A channel that tracks its request
/// (<see cref="AbortUntilSent"/>, <see cref="Track"/>) can be aborted only while the request is incomplete: a request
/// cut off mid-body cannot have been accepted, so that attempt is truly canceled. Once the whole request is with the
/// provider, aborting gains nothing, so the send waits for the answer (bounded by the channel's own timeout) and the
/// provider's answer decides. A channel that tracks nothing may have been anywhere when it was aborted.
/// </summary>
public sealed class SendProgress
{
    private int _tracked;
    private int _requestSent;

    /// <summary>An abort of this send may have come after the provider got the whole request (or nobody can tell).</summary>
    public bool PossiblyDelivered => Volatile.Read(ref _tracked) == 0 || Volatile.Read(ref _requestSent) == 1;

    /// <summary>A token that <paramref name="cancellation"/> cancels only while the request is not yet fully sent.</summary>
    public Guard AbortUntilSent(CancellationToken cancellation)
    {
        Volatile.Write(ref _tracked, 1);
        var abort = new CancellationTokenSource();
        var registration = cancellation.Register(() =>
        {
            if (Volatile.Read(ref _requestSent) == 0) abort.Cancel();
        });
        return new Guard(abort, registration);
    }

    /// <summary>Wraps an HTTP request body so the request counts as sent once its last byte is written.</summary>
    public HttpContent Track(HttpContent content) => new TrackedContent(content, this);

    /// <summary>The whole request is with the provider (for channels that are not HTTP, or write it themselves).</summary>
    public void MarkSent()
    {
        Volatile.Write(ref _tracked, 1);
        Volatile.Write(ref _requestSent, 1);
    }

    public sealed class Guard(CancellationTokenSource abort, CancellationTokenRegistration registration) : IDisposable
    {
        public CancellationToken Token => abort.Token;

        public void Dispose()
        {
            registration.Dispose();
            abort.Dispose();
        }
    }

    private sealed class TrackedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly SendProgress _progress;

        public TrackedContent(HttpContent inner, SendProgress progress)
        {
            (_inner, _progress) = (inner, progress);
            foreach (var (name, values) in inner.Headers.NonValidated)
                if (!name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) Headers.TryAddWithoutValidation(name, values);
        }

        // Content-Length framing: a body cut off before its last byte is never a complete request the provider could accept.
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellation)
        {
            await _inner.CopyToAsync(stream, cancellation);
            _progress.MarkSent();
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = _inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
