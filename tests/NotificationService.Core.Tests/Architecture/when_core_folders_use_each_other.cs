using System.Reflection;
using System.Reflection.Emit;
using NotificationService.Testing;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// No folder of the core uses a folder that uses it back, directly or around a longer loop: the folders form layers, so
/// a feature can be read (and changed) with only the folders below it in mind.
/// </summary>
public class when_core_folders_use_each_other
{
    private static readonly FolderDependencies Core = FolderDependencies.Of(
        Assembly.Load("NotificationService.Core").Location, Path.Combine(WorkerProcess.RepositoryRoot(), "src", "NotificationService.Core"));

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
    public void the_reading_sees_calls_and_ignores_what_is_no_folder()
    {
        // Limits' endpoints name nothing of Auth in a signature or attribute; they only call its extension methods
        // (user.ServiceId(), user.Actor()), which the IL of their bodies shows.
        Assert.Contains("Auth", Core.Uses["Limits"].Keys);
        // A folder's own types are no dependency, nor is the root namespace (Program) or the generated code.
        Assert.DoesNotContain(Core.Uses, kv => kv.Value.ContainsKey(kv.Key));
        Assert.Null(FolderDependencies.Folder("NotificationService.Core.Program"));
        Assert.Null(FolderDependencies.Folder("NotificationService.Core.Internal.Generated.WolverineHandlers.X"));
        Assert.Equal("Jobs", FolderDependencies.Folder("NotificationService.Core.Jobs.JobView.<>c"));
    }

    [Fact]
    public void the_reading_sees_a_constant_only_the_source_names()
    {
        // A const is compiled into its user as a value, so the IL names nothing of Retention here; the text does.
        var sources = Directory.CreateTempSubdirectory();
        try
        {
            Directory.CreateDirectory(Path.Combine(sources.FullName, "Infrastructure"));
            File.WriteAllText(Path.Combine(sources.FullName, "Infrastructure", "Days.cs"), "var max = Retention.RetentionSettings.MaxDays;");
            var uses = FolderDependencies.Of(Assembly.Load("NotificationService.Core").Location, sources.FullName);
            Assert.Contains("(a constant", uses.Uses["Infrastructure"]["Retention"]);
            Assert.False(FolderDependencies.Of(Assembly.Load("NotificationService.Core").Location).Uses.ContainsKey("Infrastructure"));
        }
        finally { sources.Delete(recursive: true); }
    }

    [Fact]
    public void the_reading_sees_a_type_named_only_in_a_generic_constraint()
    {
        // An assembly made for the test: B.Box<T> where T : A.Thing, and nothing else of A in B.
        var builder = new PersistedAssemblyBuilder(new AssemblyName("Constraints"), typeof(object).Assembly);
        var module = builder.DefineDynamicModule("Constraints");
        var thing = module.DefineType("NotificationService.Core.A.Thing", TypeAttributes.Public | TypeAttributes.Class);
        thing.CreateType();
        var box = module.DefineType("NotificationService.Core.B.Box", TypeAttributes.Public | TypeAttributes.Class);
        box.DefineGenericParameters("T")[0].SetBaseTypeConstraint(thing);
        box.CreateType();
        var path = Path.Combine(Path.GetTempPath(), $"constraints-{Guid.NewGuid():N}.dll");
        try
        {
            builder.Save(path);
            Assert.Equal("NotificationService.Core.B.Box -> NotificationService.Core.A.Thing", FolderDependencies.Of(path).Uses["B"]["A"]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void a_cycle_through_three_folders_is_found_and_named()
    {
        var uses = FolderDependencies.From(("A", "B"), ("B", "C"), ("C", "A"), ("D", "A"));
        var cycle = Assert.Single(uses.Cycles());
        Assert.Equal(["A -> B (A.x -> B.x)", "B -> C (B.x -> C.x)", "C -> A (C.x -> A.x)"], cycle);
    }
}
