using Marten;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Callbacks;

public sealed class RegisteredCallbacks : IRegisteredCallbacks
{
    public Task<bool> AnyAsync(IQuerySession session, Guid serviceId) => session.Query<CallbackEndpoint>().AnyAsync(c => c.ServiceId == serviceId);
}
