using Marten;

namespace NotificationService.Core.Offers;

/// <summary>
/// Whether a service registered a callback: an offer's callbackUrl override needs one (it sends with that callback's
/// events and secret). Callbacks build on offers (a call is addressed and filled from its offer), so offers do not name
/// the Callbacks folder back; it answers this question instead (registered by <c>AddCallbacks</c>).
/// </summary>
public interface IRegisteredCallbacks
{
    Task<bool> AnyAsync(IQuerySession session, Guid serviceId);
}
