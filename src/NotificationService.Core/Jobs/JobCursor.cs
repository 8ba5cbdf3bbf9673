using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace NotificationService.Core.Jobs;

/// <summary>
/// Where a page of <c>GET /v1/jobs</c> ended: the last job's (createdAt, id) and whose listing it was. Encrypted and
/// authenticated with the shared Data Protection key ring, so it is opaque to clients, works on every core instance and
/// after a restart, and an edited or another service's cursor is refused instead of silently moving the page.
/// <c>GET /admin/jobs</c> uses the same cursor under <see cref="AdminPurpose"/> (ServiceId empty: it spans every
/// service), so neither listing takes the other's.
/// </summary>
public sealed record JobCursor(Guid ServiceId, DateTimeOffset CreatedAt, Guid JobId)
{
    public const string Purpose = "NotificationService.Jobs.ListCursor.v1";
    public const string AdminPurpose = "NotificationService.Jobs.AdminCursor.v1";
    private const int Length = 16 + 8 + 16;

    public string Encode(IDataProtectionProvider protection, string purpose = Purpose)
    {
        var bytes = new byte[Length];
        ServiceId.TryWriteBytes(bytes.AsSpan(0, 16));
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(16, 8), CreatedAt.UtcTicks);
        JobId.TryWriteBytes(bytes.AsSpan(24, 16));
        return Base64Url.EncodeToString(protection.CreateProtector(purpose).Protect(bytes));
    }

    /// <summary>The cursor, or null when the text is not one this service was given (malformed, edited, or another's).</summary>
    public static JobCursor? Decode(IDataProtectionProvider protection, string text, Guid serviceId, string purpose = Purpose)
    {
        byte[] bytes;
        try { bytes = protection.CreateProtector(purpose).Unprotect(Base64Url.DecodeFromChars(text)); }
        catch (Exception e) when (e is FormatException or CryptographicException) { return null; }
        if (bytes.Length != Length) return null;
        var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(16, 8));
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks) return null;
        var cursor = new JobCursor(new Guid(bytes.AsSpan(0, 16)), new DateTimeOffset(ticks, TimeSpan.Zero), new Guid(bytes.AsSpan(24, 16)));
        return cursor.ServiceId == serviceId ? cursor : null;
    }
}
