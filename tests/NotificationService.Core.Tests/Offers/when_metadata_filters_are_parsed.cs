using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Tests.Offers;

/// <summary>
/// MetadataFilter on its own, for the keys an HTTP test cannot send: a URL's percent-decoding never yields half a
/// surrogate pair, but a key holding one must still not reach the jsonb containment query.
/// </summary>
public sealed class when_metadata_filters_are_parsed
{
    private static (Dictionary<string, string>? Pairs, List<(string Field, string Message)> Errors) Parse(params (string Name, string Value)[] query)
    {
        var errors = new List<(string Field, string Message)>();
        var pairs = MetadataFilter.Parse(new QueryCollection(query.ToDictionary(q => q.Name, q => new StringValues(q.Value))), errors, "page", "pageSize");
        return (pairs, errors);
    }

    [Theory]
    // Escaped, and unescaped in the test: an attribute's strings are stored as UTF-8, where half a pair becomes U+FFFD.
    [InlineData(@"metadata.\ud800")]
    [InlineData(@"metadata.a\udc00b")]
    [InlineData(@"metadata.\udc00\ud800")] // both halves, in the wrong order
    [InlineData(@"metadata.\u007f")]
    [InlineData(@"metadata.\u0085")]
    public void a_key_with_a_control_character_or_half_a_surrogate_pair_is_refused_by_name(string escaped)
    {
        var name = Regex.Unescape(escaped);
        Assert.DoesNotContain(@"\u", name);
        var (_, errors) = Parse((name, "x"));

        Assert.Equal([name], errors.Select(e => e.Field));
    }

    [Fact]
    public void a_paired_surrogate_is_text_and_the_prefix_takes_any_case()
    {
        var (pairs, errors) = Parse(("metadata.emoji\ud83d\ude00", "1"), ("METADATA.Region", "eu"), ("page", "2"), ("PageSize", "5"));

        Assert.Empty(errors);
        Assert.Equal(new Dictionary<string, string> { ["emoji\ud83d\ude00"] = "1", ["Region"] = "eu" }, pairs);
    }

    [Fact]
    public void the_same_key_under_two_spellings_of_the_prefix_is_refused_and_an_unknown_parameter_lists_the_accepted_ones()
    {
        var (_, errors) = Parse(("metadata.k", "a"), ("Metadata.k", "b"), ("status", "Failed"));

        Assert.Equal(["Metadata.k", "status"], errors.Select(e => e.Field).Order());
        Assert.Contains("page, pageSize", errors.Single(e => e.Field == "status").Message);
    }
}
