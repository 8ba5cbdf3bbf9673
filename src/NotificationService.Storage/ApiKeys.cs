using System.Security.Cryptography;
using System.Text;

namespace NotificationService.Storage;

/// <summary>
/// Keys are random, prefixed by their kind so a leaked one is recognisable, shown once and stored only as a SHA-256 hash.
/// </summary>
public static class ApiKeys
{
    public const string ServicePrefix = "nss_";
    public const string AdapterPrefix = "nsa_";

    public static string New(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
