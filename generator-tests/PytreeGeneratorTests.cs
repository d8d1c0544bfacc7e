using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Jx.PytreeGenerator.Tests;

public class PytreeGeneratorTests
{
    /// <summary>The .NET runtime's reference assemblies plus Jx.Core (where [Pytree], [Static] and IPytreeNode live).</summary>
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return tpa.Where(p => Path.GetDirectoryName(p) == runtimeDir)
            .Append(typeof(Jx.Tensor).Assembly.Location)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray();
    });

    private sealed record Run(
        ImmutableArray<Diagnostic> GeneratorDiagnostics,
        ImmutableArray<Diagnostic> CompilationDiagnostics,
        ImmutableArray<string> Sources);

    private static CSharpCompilation Compile(params string[] sources) => CSharpCompilation.Create(
        "UserCode",
        sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"User{i}.cs")),
        References.Value,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static Run Generate(string source)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new PytreeGenerator());
        driver = driver.RunGeneratorsAndUpdateCompilation(Compile(source), out var output, out var diagnostics);
        var result = driver.GetRunResult();
        return new Run(
            diagnostics,
            output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray(),
            result.GeneratedTrees.Select(t => t.ToString()).ToImmutableArray());
    }

    private static Diagnostic Single(Run run, string id)
    {
        var d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(id, d.Id);
        return d;
    }

    private static string Located(Diagnostic d, string source) => source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);

    private const string Usings = "using System.Collections.Generic;\nusing Jx;\nnamespace App;\n";

    // ----- what it generates -----

    [Fact]
    public void RecordGetsAnIPytreeNodeImplementationThatCompiles()
    {
        var run = Generate(Usings + "[Pytree] public partial record Linear(Tensor W, Tensor B);");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        var src = Assert.Single(run.Sources);
        Assert.Contains("partial record Linear : global::Jx.IPytreeNode", src);
        Assert.Contains("private static readonly string[] __jxChildNames = new string[] { \"W\", \"B\" };", src);
        Assert.Contains("object?[] global::Jx.IPytreeNode.FlattenChildren() => new object?[] { this.W, this.B };", src);
        Assert.Contains("object?[] global::Jx.IPytreeNode.AuxData() => global::System.Array.Empty<object?>();", src);
        Assert.Contains("W = global::Jx.Tree.UnflattenChild<global::Jx.Tensor>(children, 0, \"Linear\", \"W\"),", src);
        Assert.Contains("B = global::Jx.Tree.UnflattenChild<global::Jx.Tensor>(children, 1, \"Linear\", \"B\"),", src);
        Assert.Contains("return this with", src);
    }

    [Fact]
    public void StaticOnAPositionalParameterOrAPropertyMakesAuxData()
    {
        var run = Generate(Usings + """
            [Pytree] public partial record Dense(Tensor W, [Static] string Activation, [property: Static] int Features)
            {
                public Tensor? Bias { get; init; }
                [Static] public int[] Strides { get; init; } = [1];
                [Static] public readonly bool Flag;
                public Tensor Computed => W;
            }
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        var src = Assert.Single(run.Sources);
        Assert.Contains("FlattenChildren() => new object?[] { this.W, this.Bias };", src);
        Assert.Contains("AuxData() => new object?[] { this.Activation, this.Features, this.Strides, this.Flag };", src);
        Assert.Contains("Bias = global::Jx.Tree.UnflattenChild<global::Jx.Tensor?>(children, 1, \"Dense\", \"Bias\"),", src);
    }

    [Fact]
    public void RecordStructClassAndStructCompile()
    {
        var run = Generate(Usings + """
            [Pytree] public readonly partial record struct P(Tensor X, Tensor Y);
            [Pytree] public partial class C { public Tensor X { get; set; } = null!; public Tensor Y { get; private set; } = null!; [Static] public string Name { get; init; } = ""; }
            [Pytree] public partial struct S { public Tensor X { get; init; } public float Scale; }
            [Pytree] public abstract partial record Layer { public required Tensor Scale { get; init; } }
            [Pytree] public sealed partial record Empty;
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        Assert.Equal(5, run.Sources.Length);
        var empty = run.Sources.Single(s => s.Contains("partial record Empty"));
        Assert.Contains("FlattenChildren() => global::System.Array.Empty<object?>();", empty);
        Assert.Contains("return this with { };", empty);
        var c = run.Sources.Single(s => s.Contains("partial class C"));
        Assert.Contains("var __copy = (global::App.C)this.MemberwiseClone();", c);
        Assert.Contains("__copy.Y = global::Jx.Tree.UnflattenChild<global::Jx.Tensor>(children, 1, \"C\", \"Y\");", c);
        var s = run.Sources.Single(s => s.Contains("partial struct S"));
        Assert.Contains("FlattenChildren() => new object?[] { this.X, this.Scale };", s);
    }

    [Fact]
    public void GenericAndNestedTypesCompile()
    {
        var run = Generate(Usings + """
            public static partial class Outer<TOuter>
            {
                public partial class Inner
                {
                    [Pytree] public partial record Pair<T>(T First, T Second, List<(T, Tensor)> Rest) where T : class;
                }
            }
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        var src = Assert.Single(run.Sources);
        Assert.Contains("partial class Outer<TOuter>", src);
        Assert.Contains("partial class Inner", src);
        Assert.Contains("partial record Pair<T> : global::Jx.IPytreeNode", src);
        Assert.Contains("Rest = global::Jx.Tree.UnflattenChild<global::System.Collections.Generic.List<(T, global::Jx.Tensor)>>(children, 2, \"Outer<TOuter>.Inner.Pair<T>\", \"Rest\"),", src);
    }

    [Fact]
    public void InheritedMembersComeFirst()
    {
        var run = Generate(Usings + """
            [Pytree] public partial record Base(Tensor A) { public Tensor? Z { get; init; } }
            [Pytree] public sealed partial record Derived(Tensor A, Tensor B) : Base(A);
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        var derived = run.Sources.Single(s => s.Contains("partial record Derived"));
        Assert.Contains("FlattenChildren() => new object?[] { this.A, this.Z, this.B };", derived);
    }

    [Fact]
    public void KeywordNamesAreEscaped()
    {
        var run = Generate(Usings + "[Pytree] public partial record K(Tensor @class, Tensor @event);");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
        Assert.Contains("new string[] { \"class\", \"event\" }", run.Sources[0]);
        Assert.Contains("@class = global::Jx.Tree.UnflattenChild", run.Sources[0]);
    }

    // ----- diagnostics -----

    [Fact]
    public void NotPartialIsJX0001()
    {
        var source = Usings + "[Pytree] public record Linear(Tensor W);";
        var run = Generate(source);
        var d = Single(run, "JX0001");
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal("Linear", Located(d, source));
        Assert.Equal("[Pytree] type 'Linear' must be declared partial so that the generated IPytreeNode implementation can be added to it: write 'partial record Linear'",
            d.GetMessage());
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void NonPartialContainerIsJX0002()
    {
        var run = Generate(Usings + "public class Holder { [Pytree] public partial record Linear(Tensor W); }");
        var d = Single(run, "JX0002");
        Assert.Equal("[Pytree] type 'Holder.Linear' is nested in 'Holder', which must also be declared partial so that the generated code can be nested in it",
            d.GetMessage());
    }

    [Fact]
    public void StringChildIsJX0003WithAStaticSuggestion()
    {
        var source = Usings + "[Pytree] public partial record Dense(Tensor W, string Activation);";
        var run = Generate(source);
        var d = Single(run, "JX0003");
        Assert.Equal("Activation", Located(d, source));
        Assert.Equal(
            "'Activation' of [Pytree] type 'Dense' has type 'string', which can never be a pytree: strings are not pytree leaves. " +
            "Mark it [Static] if it is configuration rather than data (it then becomes part of the tree structure), or give it a pytree type: " +
            "Tensor, float/double/int/long/bool, a value tuple, array, List<T> or Dictionary<string, T> of those, or a [Pytree] type.",
            d.GetMessage());
    }

    [Theory]
    [InlineData("uint", "'uint' is not a pytree leaf (the scalar leaves are float, double, int, long and bool)")]
    [InlineData("List<string>", "strings are not pytree leaves")]
    [InlineData("Dictionary<int, Tensor>", "dictionary keys must be strings, not 'int'")]
    [InlineData("Tensor[,]", "multi-dimensional arrays are not pytrees (use a Tensor, or an array of arrays)")]
    [InlineData("(Tensor, char)", "'char' is not a pytree leaf (the scalar leaves are float, double, int, long and bool)")]
    [InlineData("System.DayOfWeek", "'DayOfWeek' is an enum, and enums are not pytree leaves")]
    [InlineData("System.Func<Tensor, Tensor>", "delegates are not pytrees")]
    [InlineData("System.Version", "'Version' is neither a Tensor, a scalar, a container of them nor a [Pytree] type, and it is sealed")]
    public void TypesThatCanNeverBePytrees(string type, string reason)
    {
        var run = Generate(Usings + $"[Pytree] public partial record R(Tensor W, {type} X);");
        var d = Single(run, "JX0003");
        Assert.Contains($"which can never be a pytree: {reason}.", d.GetMessage());
    }

    [Theory]
    [InlineData("object")]
    [InlineData("object?")]
    [InlineData("float")]
    [InlineData("double?")]
    [InlineData("long")]
    [InlineData("bool")]
    [InlineData("Tensor[]")]
    [InlineData("IReadOnlyList<Tensor>")]
    [InlineData("Dictionary<string, (Tensor, int)>")]
    [InlineData("Inner")]
    [InlineData("Unmarked")] // not sealed: a derived type may be a pytree
    [InlineData("System.IComparable")]
    [InlineData("Tuple<Tensor, float>")]
    public void TypesThatMayBePytreesAreAccepted(string type)
    {
        var run = Generate(Usings + "using System;\n" + $$"""
            [Pytree] public partial record Inner(Tensor V);
            public record Unmarked(Tensor V);
            [Pytree] public partial record R(Tensor W, {{type}} X);
            """);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
    }

    [Fact]
    public void StaticStringIsFine()
    {
        var run = Generate(Usings + "[Pytree] public partial record Dense(Tensor W, [Static] string Activation);");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationDiagnostics);
    }

    [Fact]
    public void InitOnlyPropertyOfAClassIsJX0004()
    {
        var source = Usings + "[Pytree] public partial class C { public Tensor W { get; init; } = null!; }";
        var d = Single(Generate(source), "JX0004");
        Assert.Equal("W", Located(d, source));
        Assert.Equal("'W' of [Pytree] type 'C' is a child, but the generated UnflattenChildren cannot set it on a copy: it is init-only, and a non-record " +
                     "class can only be copied with MemberwiseClone and then assigned; give it a setter ('{ get; private set; }' is enough), or make the type a record",
            d.GetMessage());
    }

    [Fact]
    public void GetOnlyPositionalPropertyIsJX0004()
    {
        var d = Single(Generate(Usings + "[Pytree] public partial record R(Tensor W) { public Tensor W { get; } = W; }"), "JX0004");
        Assert.Contains("it has no set or init accessor, so a 'with' expression cannot set it; write '{ get; init; }'", d.GetMessage());
    }

    [Theory]
    [InlineData("public static partial class S { }", "a static class has no instances to flatten")]
    [InlineData("public ref partial struct S { public Tensor X { get; set; } }", "a ref struct cannot be boxed into a pytree; make it a record struct")]
    [InlineData("file partial record S(Tensor X);", "a file-local type cannot be extended by generated code in another file; make it internal")]
    public void UnsupportedKindsAreJX0005(string declaration, string reason)
    {
        var d = Single(Generate(Usings + "[Pytree] " + declaration), "JX0005");
        Assert.Equal($"'S' cannot be marked [Pytree]: {reason}", d.GetMessage());
    }

    [Fact]
    public void ReadonlyFieldAndGetOnlyAutoPropertyWarnJX0006()
    {
        var run = Generate(Usings + """
            [Pytree] public partial record R(Tensor W)
            {
                public readonly Tensor Mask = W;
                public Tensor Cached { get; } = W;
                public Tensor Computed => W;
            }
            """);
        Assert.Equal(2, run.GeneratorDiagnostics.Length);
        Assert.All(run.GeneratorDiagnostics, d => Assert.Equal("JX0006", d.Id));
        Assert.All(run.GeneratorDiagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Assert.Equal(
            "'Mask' of [Pytree] type 'R' is a readonly field, so it is neither a child nor static data: transforms would not see it and Unflatten " +
            "would copy its old value. Mark it [Static] if it is configuration, or give it a setter (or init accessor) to make it a child.",
            run.GeneratorDiagnostics[0].GetMessage());
        Assert.Contains("'Cached' of [Pytree] type 'R' is a get-only auto-property", run.GeneratorDiagnostics[1].GetMessage());
        // A warning does not stop generation.
        Assert.Single(run.Sources);
    }

    // ----- incrementality -----

    [Fact]
    public void AnalysisIsCachedAcrossUnrelatedEdits()
    {
        var source = Usings + "[Pytree] public partial record Linear(Tensor W, Tensor B);";
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new PytreeGenerator().AsSourceGenerator()],
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        var compilation = Compile(source);
        driver = driver.RunGenerators(compilation);
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace App; public class Unrelated { }",
            new CSharpParseOptions(LanguageVersion.Latest), path: "Other.cs"));
        driver = driver.RunGenerators(edited);
        var steps = driver.GetRunResult().Results[0].TrackedSteps[PytreeGenerator.TrackingName];
        Assert.All(steps.SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
    }
}
