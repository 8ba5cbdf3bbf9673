namespace NotificationService.Contracts.AdapterTypes;

/// <summary>
/// A kind of channel (email, telegram, ...). <see cref="ConfigSchema"/> is what an admin fills in when creating an
/// adapter of this type; config properties marked <c>"writeOnly": true</c> are secrets, never returned and encrypted
/// at rest. <see cref="ParamsSchema"/> is the default schema of what clients pass per job.
/// </summary>
public sealed record AdapterType(string Name, string Description, string ConfigSchema, string ParamsSchema);

/// <summary>Every adapter type the system knows. A new type adds its descriptor here and its worker project.</summary>
public static class KnownAdapterTypes
{
    public static IReadOnlyList<AdapterType> All { get; } = [EmailAdapterType.Descriptor];

    public static AdapterType? Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
}
