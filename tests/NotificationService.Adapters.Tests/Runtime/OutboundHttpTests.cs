using System.Net;
using NotificationService.Adapters.Runtime;
using NotificationService.Hosting;
using NotificationService.Testing;

namespace NotificationService.Adapters.Tests.Runtime;

/// <summary>The HTTP client every HTTP channel uses, against a real local server.</summary>
public sealed class OutboundHttpTests
{
    [Fact]
    public async Task a_response_body_is_read_only_up_to_the_cap()
    {
        await using var peer = await HttpPeer.StartAsync();
        peer.Reply = _ => new PeerReply(200, new string('a', 1_000_000));
        using var http = OutboundHttp.CreateClient(allowPrivateNetwork: true, TimeSpan.FromSeconds(10));

        var body = await (await http.GetAsync(peer.BaseUrl)).Content.ReadAsStringAsync();

        Assert.Equal(OutboundHttp.MaxResponseBytes, body.Length);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("::1", true)]
    [InlineData("10.1.2.3", true)]
    [InlineData("172.16.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("192.168.1.1", true)]
    [InlineData("169.254.169.254", true)] // cloud metadata
    [InlineData("100.64.0.1", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("fe80::1", true)]
    [InlineData("fd00::1", true)]
    [InlineData("::ffff:10.0.0.1", true)] // IPv4-mapped
    [InlineData("64:ff9b::a9fe:a9fe", true)] // NAT64 of 169.254.169.254
    [InlineData("2002:a9fe:a9fe::1", true)] // 6to4 of 169.254.169.254
    [InlineData("::10.0.0.1", true)] // IPv4-compatible
    [InlineData("2001:0:4136:e378::1", true)] // Teredo
    [InlineData("198.18.0.1", true)]
    [InlineData("64:ff9b::808:808", false)] // NAT64 of 8.8.8.8
    [InlineData("2002:808:808::1", false)]
    [InlineData("8.8.8.8", false)]
    [InlineData("172.32.0.1", false)]
    [InlineData("2001:4860:4860::8888", false)]
    public void private_addresses_are_recognised(string address, bool isPrivate) =>
        Assert.Equal(isPrivate, OutboundHttp.IsPrivate(IPAddress.Parse(address)));
}
