using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Jx.PytreeGenerator;

/// <summary>A source location without references to the compilation (so the pipeline can cache it).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is null || !location.IsInSource ? null
            : new LocationInfo(location.SourceTree!.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic to report, as plain data.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Args)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Diagnostics.ById(Id), Location?.ToLocation(), Args.Items.Cast<object>().ToArray());

    public static DiagnosticInfo Create(DiagnosticDescriptor d, Location? location, params string[] args) =>
        new(d.Id, LocationInfo.From(location), ImmutableArray.Create(args));
}

/// <summary>A type that encloses the [Pytree] type: the generated code repeats it as a partial declaration.</summary>
/// <param name="Declaration">e.g. "partial class Outer&lt;T&gt;" or "static partial class Holder".</param>
internal sealed record ContainerModel(string Declaration);

/// <summary>A child or static member of a [Pytree] type.</summary>
/// <param name="Name">The member's name as written in ChildNames and error messages.</param>
/// <param name="Identifier">The name as a C# identifier (keywords escaped with @).</param>
/// <param name="TypeName">The fully qualified type, with nullable annotations.</param>
internal sealed record MemberModel(string Name, string Identifier, string TypeName);

/// <summary>How UnflattenChildren builds the copy.</summary>
internal enum CopyKind
{
    /// <summary><c>this with { ... }</c>: records and structs.</summary>
    With,
    /// <summary><c>MemberwiseClone()</c>, then assign the children: non-record classes.</summary>
    Clone,
}

/// <summary>Everything the emitter needs to write one [Pytree] type's implementation.</summary>
internal sealed record TypeModel(
    string? Namespace,
    EquatableArray<ContainerModel> Containers,
    string Declaration,
    string FullyQualifiedName,
    string DisplayName,
    string HintName,
    CopyKind Copy,
    EquatableArray<MemberModel> Children,
    EquatableArray<MemberModel> Statics);

/// <summary>What the analysis of one [Pytree] declaration produced: a model to emit (null if errors prevent it) and
/// the diagnostics to report.</summary>
internal sealed record AnalysisResult(TypeModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
