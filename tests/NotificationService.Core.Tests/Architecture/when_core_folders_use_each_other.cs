using System.Reflection;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// No folder of the core uses a folder that uses it back, directly or around a longer loop: the folders form layers, so
/// a feature can be read (and changed) with only the folders below it in mind.
/// </summary>
public class when_core_folders_use_each_other
{
    private static readonly FolderDependencies Core = FolderDependencies.Of(Assembly.Load("NotificationService.Core").Location);

    [Fact]
    public void no_folder_uses_a_folder_that_uses_it_back()
    {
        var cycles = Core.Cycles();
        Assert.True(cycles.Count == 0, "Folders of the core that use each other:\n" +
            string.Join("\n", cycles.Select(edges => "  cycle:\n" + string.Join("\n", edges.Select(e => "    " + e)))));
    }

    [Fact]
    public void infrastructure_uses_no_other_folder()
    {
        var uses = Core.Uses.GetValueOrDefault("Infrastructure")?.Values.ToList() ?? [];
        Assert.True(uses.Count == 0, "Infrastructure, the bottom layer, uses:\n" + string.Join("\n", uses.Select(u => "  " + u)));
    }

    [Fact]
    public void the_reading_sees_the_uses_a_source_grep_misses()
    {
        // Offers' endpoints name Auth only through an extension method (user.ServiceId()) and a `using`; the IL keeps the call.
        Assert.Contains("Auth", Core.Uses["Offers"].Keys);
        // A folder's own types are no dependency, nor is the root namespace (Program) or the generated code.
        Assert.DoesNotContain(Core.Uses, kv => kv.Value.ContainsKey(kv.Key));
        Assert.Null(FolderDependencies.Folder("NotificationService.Core.Program"));
        Assert.Null(FolderDependencies.Folder("NotificationService.Core.Internal.Generated.WolverineHandlers.X"));
        Assert.Equal("Jobs", FolderDependencies.Folder("NotificationService.Core.Jobs.JobView.<>c"));
    }
}
