using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Jx.PytreeGenerator;

/// <summary>Implements <c>Jx.IPytreeNode</c> for every partial record, record struct, class or struct marked
/// <c>[Pytree]</c>. The children are the positional record parameters and the public settable (or init) properties and
/// fields, in declaration order (inherited ones first); members marked <c>[Static]</c> (on the property, the field or the
/// positional parameter) are auxiliary data, part of the tree's structure.</summary>
[Generator(LanguageNames.CSharp)]
public sealed class PytreeGenerator : IIncrementalGenerator
{
    private const string PytreeAttribute = "Jx.PytreeAttribute";
    private const string StaticAttribute = "Jx.StaticAttribute";
    private const string NodeInterface = "Jx.IPytreeNode";
    private const string TensorType = "Jx.Tensor";

    /// <summary>The name of the analysis step, for tests that check the pipeline's caching.</summary>
    public const string TrackingName = "PytreeAnalysis";

    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    private static readonly SymbolDisplayFormat ShortFormat = new(
        typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypes,
        genericsOptions: SymbolDisplayGenericsOptions.IncludeTypeParameters,
        miscellaneousOptions: SymbolDisplayMiscellaneousOptions.UseSpecialTypes |
                              SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var results = context.SyntaxProvider.ForAttributeWithMetadataName(
            PytreeAttribute,
            static (node, _) => node is TypeDeclarationSyntax,
            static (ctx, ct) => Analyze(ctx, ct))
            .WithTrackingName(TrackingName);

        context.RegisterSourceOutput(results, static (spc, result) =>
        {
            foreach (var d in result.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (result.Model is { } model) spc.AddSource(model.HintName, Emitter.Emit(model));
        });
    }

    private sealed class Known(Compilation c)
    {
        public readonly INamedTypeSymbol? Node = c.GetTypeByMetadataName(NodeInterface);
        public readonly INamedTypeSymbol? Pytree = c.GetTypeByMetadataName(PytreeAttribute);
        public readonly INamedTypeSymbol? Static = c.GetTypeByMetadataName(StaticAttribute);
        public readonly INamedTypeSymbol? Tensor = c.GetTypeByMetadataName(TensorType);
        public readonly INamedTypeSymbol? ReadOnlyDictionary = c.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyDictionary`2");
        public readonly INamedTypeSymbol? Dictionary = c.GetTypeByMetadataName("System.Collections.Generic.IDictionary`2");
        public readonly INamedTypeSymbol? List = c.GetTypeByMetadataName("System.Collections.Generic.IList`1");
        public readonly INamedTypeSymbol? ReadOnlyList = c.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyList`1");
        public readonly INamedTypeSymbol? Collection = c.GetTypeByMetadataName("System.Collections.Generic.ICollection`1");
        public readonly INamedTypeSymbol? ReadOnlyCollection = c.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyCollection`1");
        public readonly INamedTypeSymbol? Enumerable = c.GetTypeByMetadataName("System.Collections.Generic.IEnumerable`1");
    }

    /// <summary>A child or static member found on the type, before it is turned into a <see cref="MemberModel"/>.</summary>
    private sealed class Candidate(ISymbol symbol, ITypeSymbol type, bool isStatic, bool positional)
    {
        public ISymbol Symbol { get; set; } = symbol;
        public ITypeSymbol Type { get; set; } = type;
        public bool IsStatic { get; set; } = isStatic;
        public bool Positional { get; set; } = positional;
    }

    private static AnalysisResult Analyze(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
    {
        var diags = ImmutableArray.CreateBuilder<DiagnosticInfo>();
        var type = (INamedTypeSymbol)ctx.TargetSymbol;
        var decl = (TypeDeclarationSyntax)ctx.TargetNode;
        var compilation = ctx.SemanticModel.Compilation;
        var known = new Known(compilation);
        var display = type.ToDisplayString(ShortFormat);
        var typeLocation = decl.Identifier.GetLocation();
        AnalysisResult Fail() => new(null, diags.ToImmutable());

        if (known.Node is null)
            return Fail(); // Jx.Core is not referenced: nothing to implement.

        // ----- the type itself -----
        if (type.IsStatic)
            diags.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, typeLocation, display, "a static class has no instances to flatten"));
        else if (type.IsRefLikeType)
            diags.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, typeLocation, display, "a ref struct cannot be boxed into a pytree; make it a record struct"));
        else if (type.IsFileLocal)
            diags.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, typeLocation, display, "a file-local type cannot be extended by generated code in another file; make it internal"));
        else if (type.TypeKind is not (TypeKind.Class or TypeKind.Struct))
            diags.Add(DiagnosticInfo.Create(Diagnostics.UnsupportedType, typeLocation, display, "only records, classes and structs can be pytrees"));
        if (diags.Count > 0) return Fail();

        if (!decl.Modifiers.Any(SyntaxKind.PartialKeyword))
            diags.Add(DiagnosticInfo.Create(Diagnostics.NotPartial, typeLocation, type.Name, Keyword(type)));

        var containers = new List<ContainerModel>();
        for (var c = type.ContainingType; c is not null; c = c.ContainingType)
        {
            var partial = c.DeclaringSyntaxReferences.Select(r => r.GetSyntax(ct)).OfType<TypeDeclarationSyntax>()
                .Any(d => d.Modifiers.Any(SyntaxKind.PartialKeyword));
            if (!partial)
                diags.Add(DiagnosticInfo.Create(Diagnostics.ContainerNotPartial, typeLocation, display, c.ToDisplayString(ShortFormat)));
            containers.Insert(0, new ContainerModel($"partial {Keyword(c)} {NameWithTypeParameters(c)}"));
        }
        if (diags.Count > 0) return Fail();

        // ----- members, inherited ones first -----
        var chain = new List<INamedTypeSymbol>();
        for (var t = type; t is not null && t.SpecialType is not (SpecialType.System_Object or SpecialType.System_ValueType); t = t.BaseType)
            chain.Insert(0, t);

        var members = new List<Candidate>();
        var byName = new Dictionary<string, Candidate>();
        foreach (var t in chain)
        {
            ct.ThrowIfCancellationRequested();
            var positional = PositionalParameters(t, ct);
            var ordered = new List<ISymbol>();
            foreach (var p in positional)
            {
                var m = t.GetMembers(p.Name).FirstOrDefault(s => s is IPropertySymbol or IFieldSymbol);
                if (m is not null) ordered.Add(m);
            }
            ordered.AddRange(t.GetMembers().Where(m => m is IPropertySymbol or IFieldSymbol && !ordered.Contains(m, SymbolEqualityComparer.Default)));

            foreach (var m in ordered)
            {
                if (m.IsStatic || !m.CanBeReferencedByName) continue;
                if (m is IPropertySymbol { IsIndexer: true }) continue;
                if (m is IFieldSymbol { IsConst: true }) continue;
                var param = positional.FirstOrDefault(p => p.Name == m.Name);
                if (m.IsImplicitlyDeclared && param is null) continue;
                bool isPositional = param is not null;
                bool isStatic = HasAttribute(m, known.Static) || (param is not null && HasAttribute(param, known.Static));
                bool accessible = compilation.IsSymbolAccessibleWithin(m, type);
                var memberType = m is IPropertySymbol ps ? ps.Type : ((IFieldSymbol)m).Type;

                bool include;
                if (isStatic || isPositional) include = accessible;
                else if (m.DeclaredAccessibility != Accessibility.Public || !accessible) include = false;
                else if (m is IPropertySymbol prop)
                {
                    include = prop.SetMethod is not null && prop.GetMethod is not null;
                    if (!include && prop.SetMethod is null && prop.GetMethod is not null && IsAutoProperty(prop) && SymbolEqualityComparer.Default.Equals(t, type))
                        diags.Add(DiagnosticInfo.Create(Diagnostics.Ignored, FirstLocation(m, typeLocation), display, m.Name, "a get-only auto-property"));
                }
                else
                {
                    var field = (IFieldSymbol)m;
                    include = !field.IsReadOnly;
                    if (!include && SymbolEqualityComparer.Default.Equals(t, type))
                        diags.Add(DiagnosticInfo.Create(Diagnostics.Ignored, FirstLocation(m, typeLocation), display, m.Name, "a readonly field"));
                }
                if (!include) continue;

                if (byName.TryGetValue(m.Name, out var existing))
                {
                    // A derived declaration (override or new) of an inherited member keeps the inherited position.
                    existing.Symbol = m;
                    existing.Type = memberType;
                    existing.IsStatic |= isStatic;
                    existing.Positional |= isPositional;
                }
                else
                {
                    var cand = new Candidate(m, memberType, isStatic, isPositional);
                    byName.Add(m.Name, cand);
                    members.Add(cand);
                }
            }
        }

        // ----- checks on the children -----
        var copy = type.IsRecord || type.TypeKind == TypeKind.Struct ? CopyKind.With : CopyKind.Clone;
        var children = ImmutableArray.CreateBuilder<MemberModel>();
        var statics = ImmutableArray.CreateBuilder<MemberModel>();
        foreach (var c in members)
        {
            var m = c.Symbol;
            var loc = FirstLocation(m, typeLocation);
            var model = new MemberModel(m.Name, Escape(m.Name), c.Type.ToDisplayString(TypeFormat));
            if (c.IsStatic)
            {
                if (m is IPropertySymbol { GetMethod: null })
                    diags.Add(DiagnosticInfo.Create(Diagnostics.NotSettable, loc, display, m.Name, "a [Static] property needs a getter"));
                statics.Add(model);
                continue;
            }

            var reason = NeverPytreeReason(c.Type, known, 0);
            if (reason is not null)
                diags.Add(DiagnosticInfo.Create(Diagnostics.NeverPytree, loc, display, m.Name, c.Type.ToDisplayString(ShortFormat), reason));

            var setProblem = SetProblem(m, type, copy, compilation);
            if (setProblem is not null)
                diags.Add(DiagnosticInfo.Create(Diagnostics.NotSettable, loc, display, m.Name, setProblem));
            children.Add(model);
        }

        if (diags.Any(d => Diagnostics.ById(d.Id).DefaultSeverity == DiagnosticSeverity.Error)) return Fail();

        var ns = type.ContainingNamespace is { IsGlobalNamespace: false } n
            ? n.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted))
            : null;
        var fullName = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        var typeModel = new TypeModel(
            ns,
            containers.ToImmutableArray(),
            $"partial {Keyword(type)} {NameWithTypeParameters(type)}",
            fullName,
            display,
            HintName(fullName),
            copy,
            children.ToImmutable(),
            statics.ToImmutable());
        return new AnalysisResult(typeModel, diags.ToImmutable());
    }

    /// <summary>Why the generated code could not assign this child on a copy, or null when it can.</summary>
    private static string? SetProblem(ISymbol m, INamedTypeSymbol type, CopyKind copy, Compilation compilation)
    {
        if (m is IFieldSymbol f)
            return f.IsReadOnly ? "it is a readonly field; remove 'readonly' or mark it [Static]" : null;
        var p = (IPropertySymbol)m;
        if (p.GetMethod is null) return "it has no getter";
        if (p.SetMethod is null)
            return copy == CopyKind.With
                ? "it has no set or init accessor, so a 'with' expression cannot set it; write '{ get; init; }'"
                : "it has no setter; give it '{ get; set; }' (a private setter is enough), or make the type a record";
        if (!compilation.IsSymbolAccessibleWithin(p.SetMethod, type))
            return "its setter is not accessible from the type; make it at least protected";
        if (copy == CopyKind.Clone && p.SetMethod.IsInitOnly)
            return "it is init-only, and a non-record class can only be copied with MemberwiseClone and then assigned; " +
                   "give it a setter ('{ get; private set; }' is enough), or make the type a record";
        return null;
    }

    /// <summary>The parameters of a record's primary constructor (its positional properties), or none.</summary>
    private static ImmutableArray<IParameterSymbol> PositionalParameters(INamedTypeSymbol t, CancellationToken ct)
    {
        if (!t.IsRecord) return ImmutableArray<IParameterSymbol>.Empty;
        foreach (var ctor in t.InstanceConstructors)
        {
            if (ctor.IsImplicitlyDeclared && ctor.DeclaringSyntaxReferences.Length == 0) continue;
            if (ctor.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is TypeDeclarationSyntax))
                return ctor.Parameters;
        }
        if (t.DeclaringSyntaxReferences.Length > 0) return ImmutableArray<IParameterSymbol>.Empty;
        // A record from metadata: the constructor whose parameters are exactly properties of the same names and types.
        foreach (var ctor in t.InstanceConstructors)
        {
            if (ctor.Parameters.Length == 0) continue;
            if (ctor.Parameters.Length == 1 && SymbolEqualityComparer.Default.Equals(ctor.Parameters[0].Type, t)) continue; // copy constructor
            if (ctor.Parameters.All(p => t.GetMembers(p.Name).OfType<IPropertySymbol>().Any(q => SymbolEqualityComparer.Default.Equals(q.Type, p.Type))))
                return ctor.Parameters;
        }
        return ImmutableArray<IParameterSymbol>.Empty;
    }

    private static bool IsAutoProperty(IPropertySymbol p) =>
        p.ContainingType.GetMembers().OfType<IFieldSymbol>().Any(f => SymbolEqualityComparer.Default.Equals(f.AssociatedSymbol, p));

    private static bool HasAttribute(ISymbol s, INamedTypeSymbol? attribute) =>
        attribute is not null && s.GetAttributes().Any(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, attribute));

    /// <summary>Why a value of this static type can never be a pytree, or null when it may be one.</summary>
    private static string? NeverPytreeReason(ITypeSymbol t, Known k, int depth)
    {
        if (depth > 16) return null;
        switch (t.TypeKind)
        {
            case TypeKind.TypeParameter:
            case TypeKind.Dynamic:
            case TypeKind.Error:
                return null;
            case TypeKind.Pointer:
            case TypeKind.FunctionPointer:
                return "pointers are not pytrees";
            case TypeKind.Delegate:
                return "delegates are not pytrees";
            case TypeKind.Enum:
                return $"'{t.ToDisplayString(ShortFormat)}' is an enum, and enums are not pytree leaves";
            case TypeKind.Array:
            {
                var a = (IArrayTypeSymbol)t;
                if (a.Rank != 1) return "multi-dimensional arrays are not pytrees (use a Tensor, or an array of arrays)";
                return NeverPytreeReason(a.ElementType, k, depth + 1);
            }
        }

        switch (t.SpecialType)
        {
            case SpecialType.System_Single:
            case SpecialType.System_Double:
            case SpecialType.System_Int32:
            case SpecialType.System_Int64:
            case SpecialType.System_Boolean:
            case SpecialType.System_Object:
            case SpecialType.System_ValueType:
            case SpecialType.System_Array:
                return null;
            case SpecialType.System_String:
                return "strings are not pytree leaves";
            case SpecialType.System_Char:
            case SpecialType.System_Byte:
            case SpecialType.System_SByte:
            case SpecialType.System_Int16:
            case SpecialType.System_UInt16:
            case SpecialType.System_UInt32:
            case SpecialType.System_UInt64:
            case SpecialType.System_Decimal:
            case SpecialType.System_IntPtr:
            case SpecialType.System_UIntPtr:
            case SpecialType.System_DateTime:
                return $"'{t.ToDisplayString(ShortFormat)}' is not a pytree leaf (the scalar leaves are float, double, int, long and bool)";
        }

        if (t is not INamedTypeSymbol named) return null;
        if (named.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T)
            return NeverPytreeReason(named.TypeArguments[0], k, depth + 1);
        if (k.Tensor is not null && InheritsFrom(named, k.Tensor)) return null;
        if ((k.Node is not null && named.AllInterfaces.Contains(k.Node, SymbolEqualityComparer.Default)) || HasAttribute(named, k.Pytree)) return null;
        if (named.IsTupleType)
        {
            foreach (var e in named.TupleElements)
                if (NeverPytreeReason(e.Type, k, depth + 1) is { } r) return r;
            return null;
        }
        if (named.ContainingNamespace?.ToDisplayString() == "System" && named.Name == "Tuple")
        {
            foreach (var a in named.TypeArguments)
                if (NeverPytreeReason(a, k, depth + 1) is { } r) return r;
            return null;
        }

        var dict = Implementation(named, k.ReadOnlyDictionary) ?? Implementation(named, k.Dictionary);
        if (dict is not null)
        {
            if (dict.TypeArguments[0].SpecialType != SpecialType.System_String)
                return $"dictionary keys must be strings, not '{dict.TypeArguments[0].ToDisplayString(ShortFormat)}'";
            return NeverPytreeReason(dict.TypeArguments[1], k, depth + 1);
        }
        var list = Implementation(named, k.List) ?? Implementation(named, k.ReadOnlyList) ?? Implementation(named, k.Collection) ??
                   Implementation(named, k.ReadOnlyCollection) ?? Implementation(named, k.Enumerable);
        if (list is not null)
            return NeverPytreeReason(list.TypeArguments[0], k, depth + 1);

        if (named.TypeKind == TypeKind.Interface || named.IsAbstract || !(named.IsSealed || named.IsValueType || named.IsStatic))
            return null; // a derived type could be a pytree
        return $"'{named.ToDisplayString(ShortFormat)}' is neither a Tensor, a scalar, a container of them nor a [Pytree] type, and it is sealed";
    }

    private static bool InheritsFrom(INamedTypeSymbol t, INamedTypeSymbol baseType)
    {
        for (INamedTypeSymbol? c = t; c is not null; c = c.BaseType)
            if (SymbolEqualityComparer.Default.Equals(c, baseType)) return true;
        return false;
    }

    /// <summary>The constructed generic interface <paramref name="definition"/> that t is or implements.</summary>
    private static INamedTypeSymbol? Implementation(INamedTypeSymbol t, INamedTypeSymbol? definition)
    {
        if (definition is null) return null;
        if (SymbolEqualityComparer.Default.Equals(t.OriginalDefinition, definition)) return t;
        return t.AllInterfaces.FirstOrDefault(i => SymbolEqualityComparer.Default.Equals(i.OriginalDefinition, definition));
    }

    private static Location FirstLocation(ISymbol s, Location fallback) =>
        s.Locations.FirstOrDefault(l => l.IsInSource) ?? fallback;

    private static string Keyword(INamedTypeSymbol t) => t.TypeKind switch
    {
        TypeKind.Struct => t.IsRecord ? "record struct" : "struct",
        TypeKind.Interface => "interface",
        _ => t.IsRecord ? "record" : "class",
    };

    private static string NameWithTypeParameters(INamedTypeSymbol t) =>
        Escape(t.Name) + (t.TypeParameters.Length == 0 ? "" : "<" + string.Join(", ", t.TypeParameters.Select(p => Escape(p.Name))) + ">");

    private static string Escape(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    private static string HintName(string fullName)
    {
        var sb = new StringBuilder();
        foreach (var ch in fullName.Replace("global::", ""))
            sb.Append(char.IsLetterOrDigit(ch) || ch is '.' or '_' ? ch : '_');
        return sb.Append(".Pytree.g.cs").ToString();
    }
}
