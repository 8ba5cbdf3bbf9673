using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

namespace NotificationService.Core.Tests.Architecture;

/// <summary>
/// Which folder of the core (namespace <c>NotificationService.Core.&lt;Folder&gt;</c>) uses which, read from the compiled
/// assembly: base types and interfaces, generic parameter constraints (of types and methods), the signatures of fields,
/// methods and properties, attributes (their type and the types they name), and every type, method and field that
/// method bodies (lambdas and async state machines included) touch. Reading the IL rather than the source also sees
/// what a `using` or a partial qualification hides.
/// Blind spot: what the compiler copies into the caller leaves no reference behind, so a folder using only another
/// folder's <c>const</c> values, enum constants (as values, not as types in a signature), default parameter values or
/// <c>nameof</c> is not seen. <see cref="Of"/> given the sources adds the qualified uses of the core's constants (const
/// fields and enum members written <c>Type.Name</c>, also inside <c>nameof(...)</c> or a default value) found in the
/// text; an unqualified use (<c>using static</c>) or a bare <c>nameof(Type)</c> is still not seen.
/// </summary>
public sealed partial class FolderDependencies
{
    private const string Root = "NotificationService.Core";

    /// <summary>Folder -> folder -> one example "using type -> used type", for the message of a failing test.</summary>
    public IReadOnlyDictionary<string, SortedDictionary<string, string>> Uses { get; }

    private FolderDependencies(IReadOnlyDictionary<string, SortedDictionary<string, string>> uses) => Uses = uses;

    /// <summary>A made-up graph, to test the search for cycles on its own.</summary>
    public static FolderDependencies From(params (string From, string To)[] edges) => new(edges
        .GroupBy(e => e.From)
        .ToDictionary(g => g.Key, g => new SortedDictionary<string, string>(g.ToDictionary(e => e.To, e => $"{e.From}.x -> {e.To}.x"))));

    /// <param name="sourceRoot">the core's source folder, to find qualified uses of constants in the text as well</param>
    public static FolderDependencies Of(string assemblyPath, string? sourceRoot = null)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var uses = new SortedDictionary<string, SortedDictionary<string, string>>();
        var types = new TypeNames(reader);
        void Use(string from, string to, string example)
        {
            var edges = uses.TryGetValue(from, out var e) ? e : uses[from] = new SortedDictionary<string, string>();
            edges.TryAdd(to, example);
        }

        // "Type.Name" of every constant (const field, enum member) of a folder's type -> its type's full name
        var constants = new Dictionary<string, string>();
        foreach (var handle in reader.TypeDefinitions)
        {
            var owner = types.Of(handle);
            if (Folder(owner) is not { } from) continue;
            var used = new HashSet<string>();
            Collect(reader, pe, types, handle, used);
            foreach (var name in used)
                if (Folder(name) is { } to && to != from) Use(from, to, $"{owner} -> {name}");
            var type = reader.GetTypeDefinition(handle);
            foreach (var f in type.GetFields())
            {
                var field = reader.GetFieldDefinition(f);
                if ((field.Attributes & FieldAttributes.Literal) != 0)
                    constants.TryAdd($"{reader.GetString(type.Name)}.{reader.GetString(field.Name)}", owner);
            }
        }

        if (sourceRoot is not null)
            foreach (var file in Directory.EnumerateFiles(sourceRoot, "*.cs", SearchOption.AllDirectories))
            {
                var path = Path.GetRelativePath(sourceRoot, file).Replace('\\', '/');
                var dir = path.IndexOf('/');
                if (dir < 0 || path[..dir] is "Internal" or "bin" or "obj") continue;
                var from = path[..dir];
                // Every "A.B" in the text, overlapping ones too (Infrastructure.RequestLimits.MaxBodyBytes holds two).
                foreach (Match m in QualifiedName().Matches(File.ReadAllText(file)))
                    if (constants.TryGetValue($"{m.Groups[1].Value}.{m.Groups[2].Value}", out var owner) && Folder(owner) is { } to && to != from)
                        Use(from, to, $"{path} -> {owner}.{m.Groups[2].Value} (a constant, compiled into the caller)");
            }
        return new FolderDependencies(uses);
    }

    [GeneratedRegex(@"(?<!\w)(?=([A-Z]\w*)\.([A-Z]\w*)\b)")]
    private static partial Regex QualifiedName();

    /// <summary>The folder of a type's full name; null for the root namespace, generated code and other assemblies.</summary>
    public static string? Folder(string fullName)
    {
        if (!fullName.StartsWith(Root + ".", StringComparison.Ordinal)) return null;
        var rest = fullName[(Root.Length + 1)..];
        var dot = rest.IndexOf('.');
        if (dot < 0) return null; // a type in the root namespace itself (Program)
        var folder = rest[..dot];
        return folder == "Internal" ? null : folder;
    }

    /// <summary>Every group of folders that reach each other (strongly connected, more than one folder), as their edges.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var nodes = Uses.Keys.Concat(Uses.Values.SelectMany(v => v.Keys)).Distinct().Order().ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var groups = new List<List<string>>();

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in Uses.TryGetValue(v, out var edges) ? edges.Keys.ToList() : [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var group = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); group.Add(x); } while (x != v);
            if (group.Count > 1) groups.Add(group);
        }

        foreach (var n in nodes) if (!index.ContainsKey(n)) Visit(n);

        return groups.Select(g => (IReadOnlyList<string>)g.Order()
                .SelectMany(from => Uses[from].Where(e => g.Contains(e.Key)).Select(e => $"{from} -> {e.Key} ({e.Value})"))
                .ToList())
            .ToList();
    }

    private static void Collect(MetadataReader reader, PEReader pe, TypeNames types, TypeDefinitionHandle handle, HashSet<string> used)
    {
        var type = reader.GetTypeDefinition(handle);
        if (!type.BaseType.IsNil) types.Add(type.BaseType, used);
        foreach (var i in type.GetInterfaceImplementations()) types.Add(reader.GetInterfaceImplementation(i).Interface, used);
        Attributes(reader, types, type.GetCustomAttributes(), used);
        Constraints(reader, types, type.GetGenericParameters(), used);

        foreach (var f in type.GetFields())
        {
            var field = reader.GetFieldDefinition(f);
            used.UnionWith(field.DecodeSignature(types, null));
            Attributes(reader, types, field.GetCustomAttributes(), used);
        }
        foreach (var p in type.GetProperties())
        {
            var property = reader.GetPropertyDefinition(p);
            AddSignature(property.DecodeSignature(types, null), used);
            Attributes(reader, types, property.GetCustomAttributes(), used);
        }
        foreach (var m in type.GetMethods())
        {
            var method = reader.GetMethodDefinition(m);
            AddSignature(method.DecodeSignature(types, null), used);
            Attributes(reader, types, method.GetCustomAttributes(), used);
            Constraints(reader, types, method.GetGenericParameters(), used);
            foreach (var p in method.GetParameters()) Attributes(reader, types, reader.GetParameter(p).GetCustomAttributes(), used);
            if (method.RelativeVirtualAddress != 0) Body(reader, types, pe.GetMethodBody(method.RelativeVirtualAddress), used);
        }
    }

    /// <summary>The types a generic parameter is constrained to (<c>where T : SomeType</c>).</summary>
    private static void Constraints(MetadataReader reader, TypeNames types, GenericParameterHandleCollection parameters, HashSet<string> used)
    {
        foreach (var p in parameters)
            foreach (var c in reader.GetGenericParameter(p).GetConstraints())
                types.Add(reader.GetGenericParameterConstraint(c).Type, used);
    }

    private static void AddSignature(MethodSignature<IReadOnlyList<string>> signature, HashSet<string> used)
    {
        used.UnionWith(signature.ReturnType);
        foreach (var parameter in signature.ParameterTypes) used.UnionWith(parameter);
    }

    private static void Attributes(MetadataReader reader, TypeNames types, CustomAttributeHandleCollection attributes, HashSet<string> used)
    {
        foreach (var a in attributes)
        {
            var attribute = reader.GetCustomAttribute(a);
            types.AddMember(attribute.Constructor, used);
            try
            {
                var value = attribute.DecodeValue(new AttributeTypes(types));
                foreach (var arg in value.FixedArguments.Concat(value.NamedArguments.Select(n => new CustomAttributeTypedArgument<IReadOnlyList<string>>(n.Type, n.Value))))
                    if (arg.Value is string name && arg.Type.Contains(typeof(Type).FullName!)) used.Add(name.Split(',')[0].Replace('+', '.'));
            }
            catch (BadImageFormatException) { } // an enum argument of a type from another assembly: nothing of the core
        }
    }

    private static readonly IReadOnlyDictionary<short, OperandType> OperandTypes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value, o => o.OperandType);

    private static void Body(MetadataReader reader, TypeNames types, MethodBodyBlock body, HashSet<string> used)
    {
        if (!body.LocalSignature.IsNil)
            foreach (var local in reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(types, null)) used.UnionWith(local);

        var il = body.GetILReader();
        while (il.RemainingBytes > 0)
        {
            short code = il.ReadByte();
            if (code == 0xFE) code = (short)(0xFE00 | il.ReadByte());
            switch (OperandTypes[code])
            {
                case OperandType.InlineNone: break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.Offset += 1; break;
                case OperandType.InlineVar: il.Offset += 2; break;
                case OperandType.InlineI8 or OperandType.InlineR: il.Offset += 8; break;
                // N, then N jump targets. Not `il.Offset += 4 * il.ReadInt32()`: that reads Offset before ReadInt32 moves it
                // past N, landing 4 bytes short (a dense switch on an enum in the core first met it).
                case OperandType.InlineSwitch: var targets = il.ReadInt32(); il.Offset += 4 * targets; break;
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    types.AddMember(MetadataTokens.EntityHandle(il.ReadInt32()), used);
                    break;
                default: il.Offset += 4; break; // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
            }
        }
    }

    /// <summary>Turns type handles and signatures into the full names of the types they mention (generic arguments too).</summary>
    private sealed class TypeNames(MetadataReader reader) : ISignatureTypeProvider<IReadOnlyList<string>, object?>
    {
        public MetadataReader Reader => reader;

        public string Of(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            // A nested type (closure, state machine, inner class) belongs to the folder of the type it is declared in.
            return type.GetDeclaringType() is { IsNil: false } outer
                ? $"{Of(outer)}.{reader.GetString(type.Name)}"
                : $"{reader.GetString(type.Namespace)}.{reader.GetString(type.Name)}";
        }

        public void Add(EntityHandle handle, HashSet<string> used) => used.UnionWith(handle.Kind switch
        {
            HandleKind.TypeDefinition => [Of((TypeDefinitionHandle)handle)],
            HandleKind.TypeReference => GetTypeFromReference(reader, (TypeReferenceHandle)handle, 0),
            HandleKind.TypeSpecification => GetTypeFromSpecification(reader, null, (TypeSpecificationHandle)handle, 0),
            _ => [],
        });

        /// <summary>A token in IL or an attribute's constructor: the type, or the member with its declaring type and signature.</summary>
        public void AddMember(EntityHandle handle, HashSet<string> used)
        {
            switch (handle.Kind)
            {
                case HandleKind.MethodDefinition:
                    used.Add(Of(reader.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.FieldDefinition:
                    used.Add(Of(reader.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()));
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    if (member.Parent.Kind == HandleKind.MethodDefinition) AddMember(member.Parent, used);
                    else Add(member.Parent, used);
                    if (member.GetKind() == MemberReferenceKind.Method) AddSignature(member.DecodeMethodSignature(this, null), used);
                    else used.UnionWith(member.DecodeFieldSignature(this, null));
                    break;
                case HandleKind.MethodSpecification:
                    var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddMember(spec.Method, used);
                    foreach (var argument in spec.DecodeSignature(this, null)) used.UnionWith(argument);
                    break;
                default:
                    Add(handle, used);
                    break;
            }
        }

        public IReadOnlyList<string> GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => [Of(handle)];

        public IReadOnlyList<string> GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind)
        {
            var type = r.GetTypeReference(handle);
            return type.ResolutionScope.Kind == HandleKind.TypeReference
                ? [$"{GetTypeFromReference(r, (TypeReferenceHandle)type.ResolutionScope, 0)[0]}.{r.GetString(type.Name)}"]
                : [$"{r.GetString(type.Namespace)}.{r.GetString(type.Name)}"];
        }

        public IReadOnlyList<string> GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            r.GetTypeSpecification(handle).DecodeSignature(this, context);

        public IReadOnlyList<string> GetGenericInstantiation(IReadOnlyList<string> genericType, ImmutableArray<IReadOnlyList<string>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(t => t)];

        public IReadOnlyList<string> GetFunctionPointerType(MethodSignature<IReadOnlyList<string>> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];

        public IReadOnlyList<string> GetModifiedType(IReadOnlyList<string> modifier, IReadOnlyList<string> unmodifiedType, bool isRequired) => unmodifiedType;
        public IReadOnlyList<string> GetArrayType(IReadOnlyList<string> elementType, ArrayShape shape) => elementType;
        public IReadOnlyList<string> GetSZArrayType(IReadOnlyList<string> elementType) => elementType;
        public IReadOnlyList<string> GetByReferenceType(IReadOnlyList<string> elementType) => elementType;
        public IReadOnlyList<string> GetPointerType(IReadOnlyList<string> elementType) => elementType;
        public IReadOnlyList<string> GetPinnedType(IReadOnlyList<string> elementType) => elementType;
        public IReadOnlyList<string> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
        public IReadOnlyList<string> GetGenericMethodParameter(object? context, int index) => [];
        public IReadOnlyList<string> GetGenericTypeParameter(object? context, int index) => [];
    }

    /// <summary>Attribute arguments: what matters is which argument is a <see cref="Type"/> (its value is then the type's name).</summary>
    private sealed class AttributeTypes(TypeNames types) : ICustomAttributeTypeProvider<IReadOnlyList<string>>
    {
        public IReadOnlyList<string> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
        public IReadOnlyList<string> GetSystemType() => [typeof(Type).FullName!];
        public IReadOnlyList<string> GetSZArrayType(IReadOnlyList<string> elementType) => elementType;
        public IReadOnlyList<string> GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [types.Of(handle)];
        public IReadOnlyList<string> GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            types.GetTypeFromReference(reader, handle, rawTypeKind);
        public IReadOnlyList<string> GetTypeFromSerializedName(string name) => [name.Split(',')[0].Replace('+', '.')];
        public PrimitiveTypeCode GetUnderlyingEnumType(IReadOnlyList<string> type) =>
            type.Count > 0 && Folder(type[0]) is not null ? PrimitiveTypeCode.Int32 : throw new BadImageFormatException();
        public bool IsSystemType(IReadOnlyList<string> type) => type.Count == 1 && type[0] == typeof(Type).FullName;
    }
}
