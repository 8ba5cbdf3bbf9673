using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using NotificationService.Core.Infrastructure;
using NotificationService.Core.Offers;

namespace NotificationService.Core.Tests.Hostile;

/// <summary>The boundary check on its own, without a host: paths, per-object keys, escapes, several errors at once.</summary>
public sealed class when_a_json_body_is_checked
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() }, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    private static ProblemDetails? Check(string json) => JsonBodies.Check(Encoding.UTF8.GetBytes(json), typeof(CreateOffer), Options);

    [Fact]
    public void the_same_key_in_sibling_objects_is_fine() =>
        Assert.Null(Check("""{"targets":[{"adapter":"a","params":{"x":[{"k":1},{"k":2}]}},{"adapter":"a","params":{"x":1}}],"metadata":{"k":"v"}}"""));

    [Fact]
    public void a_key_repeated_through_an_escape_is_still_repeated()
    {
        var problem = Check("""{"targets":[{"adapter":"a","params":{"to":1,"\u0074o":2}}]}""");
        Assert.Equal(400, problem?.Status);
        Assert.StartsWith("targets[0].params.to:", problem!.Detail);
    }

    [Fact]
    public void every_unstorable_value_is_named_at_once_with_its_full_path()
    {
        var problem = Assert.IsType<ValidationProblemDetails>(Check(
            """{"targets":[{"adapter":"a","params":{"list":["ok","\u0000"],"n":1e400}},{"adapter":"b\ud800","params":{}}],"metadata":{"a.b":"\u0000"}}"""));
        Assert.Equal(422, problem.Status);
        Assert.Equal(["metadata[\"a.b\"]", "targets[0].params.list[1]", "targets[0].params.n", "targets[1].adapter"], problem.Errors.Keys.Order());
    }

    [Theory]
    [InlineData("[]", "body: expected an object")]
    [InlineData("""{"targets":[{"adapter":"a","params":{},"extra":1}]}""", "targets[0].extra: unknown field")]
    [InlineData("""{"targets":[],"expireAt":1}""", "expireAt: expected a date-time")]
    [InlineData("""{"targets":[] "x":1}""", "The body is not valid JSON")]
    public void shape_errors_are_a_400_in_json_terms(string json, string detail)
    {
        var problem = Check(json);
        Assert.Equal(400, problem?.Status);
        Assert.Contains(detail, problem!.Detail);
    }
}
