using System.Globalization;
using FsCheck;
using FsCheck.Fluent;

namespace Jx.PropertyTests;

// Shared generators of the autodiff property tests. Every random case is a plain value (shape index, parameter seed,
// input values) so that FsCheck can shrink it, and prints as C# that rebuilds the failing inputs.

/// <summary>How many random cases each property runs. The environment variable JX_PROPTEST_SCALE multiplies them
/// (e.g. 10 for a long soak run).</summary>
public static class PropConfig
{
    private static readonly double Scale =
        double.TryParse(Environment.GetEnvironmentVariable("JX_PROPTEST_SCALE"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 1;

    /// <summary>A throwing quick-check configuration running n cases (times JX_PROPTEST_SCALE).</summary>
    public static Config Cases(int n) => Config.QuickThrowOnFailure.WithMaxTest(Math.Max(1, (int)Math.Round(n * Scale))).WithQuietOnSuccess(true);
}

/// <summary>The shapes of JAX's lax_autodiff_test and their broadcasting combinations.</summary>
public static class TestShapes
{
    public static readonly Shape Scalar = Shape.Scalar;

    /// <summary>[], [3], [3,4], [3,1], [1,4], [2,3,4], [2,1,4]: index 0 is the simplest, so shrinking moves toward it.</summary>
    public static readonly Shape[] Jax = [Shape.Scalar, new(3), new(3, 4), new(3, 1), new(1, 4), new(2, 3, 4), new(2, 1, 4)];

    /// <summary>One-operand shape choices (optionally filtered).</summary>
    public static Shape[][] Unary(Func<Shape, bool>? where = null) => Jax.Where(where ?? (_ => true)).Select(s => new[] { s }).ToArray();

    /// <summary>Two-operand choices: equal shapes first, then NumPy broadcasting combinations.</summary>
    public static readonly Shape[][] Binary =
    [
        .. Jax.Select(s => new[] { s, s }),
        [new(3, 1), new(1, 4)], [new(1, 4), new(3, 1)],
        [Scalar, new(2, 3, 4)], [new(2, 3, 4), Scalar], [new(3), Scalar], [Scalar, new(3, 4)],
        [new(3, 4), new(1, 4)], [new(3, 1), new(3, 4)], [new(2, 1, 4), new(3, 1)], [new(3, 4), new(2, 1, 4)],
        [new(1, 4), new(2, 3, 4)], [new(2, 3, 4), new(2, 1, 4)],
    ];

    public static string Str(Shape s) => s.ToBracketString();

    /// <summary>For every element of the broadcast result, the flat index into each operand.</summary>
    public static IEnumerable<int[]> BroadcastIndices(Shape[] shapes)
    {
        var outShape = Np.BroadcastShapes(shapes);
        var idx = new int[outShape.Rank];
        for (int flat = 0; flat < outShape.Size; flat++)
        {
            int rem = flat;
            for (int d = outShape.Rank - 1; d >= 0; d--) { idx[d] = rem % outShape[d]; rem /= outShape[d]; }
            var r = new int[shapes.Length];
            for (int k = 0; k < shapes.Length; k++)
            {
                var s = shapes[k];
                int off = outShape.Rank - s.Rank, f = 0;
                for (int d = 0; d < s.Rank; d++) f = f * s[d] + (s[d] == 1 ? 0 : idx[off + d]);
                r[k] = f;
            }
            yield return r;
        }
    }
}

/// <summary>Formatting of counterexamples as C# that rebuilds them.</summary>
public static class Fmt
{
    public static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    public static string Ints(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";

    public static string Tensor(double[] values, Shape shape) =>
        $"Tensor.FromArray(new double[] {{ {string.Join(", ", values.Select(D))} }}, new Shape({string.Join(", ", shape)}))";

    public static string IntTensor(int[] values, Shape shape) =>
        $"Tensor.FromArray(new int[] {{ {string.Join(", ", values)} }}, new Shape({string.Join(", ", shape)}))";

    public static string Bools(bool[] values, Shape shape) =>
        $"Tensor.FromArray(new bool[] {{ {string.Join(", ", values.Select(b => b ? "true" : "false"))} }}, new Shape({string.Join(", ", shape)}))";
}

/// <summary>A set of valid input values: an interval (sampled on a 0.01 grid) and an optional extra condition, with an
/// anchor value toward which shrinking moves.</summary>
public sealed record Domain(string Name, double Lo, double Hi, double Anchor, Func<double, bool>? Extra = null)
{
    public bool Contains(double v) => v >= Lo && v <= Hi && (Extra?.Invoke(v) ?? true);

    public Gen<double> Gen => FsCheck.Fluent.Gen.Choose((int)Math.Round(Lo * 100), (int)Math.Round(Hi * 100)).Select(k => k / 100.0).Where(Contains);

    public override string ToString() => Name;

    private static double Frac(double v) => v - Math.Floor(v);

    public static readonly Domain Real = new("real", -2, 2, 0.5);
    public static readonly Domain Wide = new("[-3,3]", -3, 3, 0.5);
    public static readonly Domain Small = new("[-1.5,1.5]", -1.5, 1.5, 1);
    public static readonly Domain Positive = new("[0.3,3]", 0.3, 3, 1);
    public static readonly Domain PowBase = new("[0.5,2.5]", 0.5, 2.5, 1);
    public static readonly Domain OpenUnit = new("[-0.9,0.9] in (-1,1)", -0.9, 0.9, 0.5);
    public static readonly Domain AwayFromZero = new("|x|>=0.3", -2, 2, 1, v => Math.Abs(v) >= 0.3);
    public static readonly Domain Divisor = new("|y|>=0.5", -2, 2, 1, v => Math.Abs(v) >= 0.5);
    /// <summary>Bases of integer powers down to -3.</summary>
    public static readonly Domain PowerBase = new("0.5<=|x|<=2", -2, 2, 1, v => Math.Abs(v) >= 0.5);
    public static readonly Domain AboveOne = new("[1.2,3]", 1.2, 3, 2);
    public static readonly Domain Log1p = new("[-0.7,3]", -0.7, 3, 0.5);
    public static readonly Domain Tan = new("|x|<=1.2", -1.2, 1.2, 0.5);
    public static readonly Domain Gamma = new("[0.3,4]", 0.3, 4, 1.5);
    public static readonly Domain Digamma = new("[0.3,4]", 0.3, 4, 1.5);
    /// <summary>Away from integers and half-integers (where floor, ceil and round jump).</summary>
    public static readonly Domain AwayFromIntegers = new("frac in [.1,.4]u[.6,.9]", -3, 3, 0.25,
        v => Frac(v) is (>= 0.1 and <= 0.4) or (>= 0.6 and <= 0.9));
}

/// <summary>Value generators and shrinkers shared by the case types.</summary>
public static class Gens
{
    /// <summary>All generators in order (a sequence without relying on a particular FsCheck overload).</summary>
    public static Gen<T[]> All<T>(IEnumerable<Gen<T>> gens)
    {
        Gen<List<T>> acc = Gen.Constant(new List<T>());
        foreach (var g in gens)
            acc = acc.SelectMany(l => g.Select(x => new List<T>(l) { x }));
        return acc.Select(l => l.ToArray());
    }

    /// <summary>n values of the domain.</summary>
    public static Gen<double[]> Values(Domain d, int n) => All(Enumerable.Repeat(d.Gen, n));

    /// <summary>n pairwise-distinct values (at least 0.1 apart) from [-3, 3]: no ties for max, min, cummax, sort.</summary>
    public static Gen<double[]> Distinct(int n) =>
        Gen.Shuffle(Enumerable.Range(-30, 61).ToArray()).Select(p => p.Take(n).Select(k => k / 10.0).ToArray());

    /// <summary>A derived random number generator for parameters (axes, indices, ...).</summary>
    public static System.Random Rng(int seed, int salt = 0) => new(seed * 7919 + salt);

    /// <summary>Cycles or truncates values to a new length (used when shrinking a shape).</summary>
    public static double[] Resize(double[] v, int n) => Enumerable.Range(0, n).Select(i => v.Length == 0 ? 0.5 : v[i % v.Length]).ToArray();

    private static int Decimals(double v)
    {
        for (int d = 0; d <= 2; d++)
            if (Math.Abs(v - Math.Round(v, d)) < 1e-12) return d;
        return 3;
    }

    /// <summary>How complex a value looks: the anchor is simplest, then fewer decimals. Shrinking only ever lowers it.</summary>
    public static int Score(double v, double anchor) => v == anchor ? 0 : 1 + Decimals(v);

    /// <summary>Simpler versions of one value inside the domain.</summary>
    public static IEnumerable<double> SimplerValues(double v, Domain d)
    {
        var seen = new HashSet<double>();
        foreach (var c in new[] { d.Anchor, Math.Round(v), Math.Round(v, 1), Math.Round(v, 2) })
            if (d.Contains(c) && Score(c, d.Anchor) < Score(v, d.Anchor) && seen.Add(c))
                yield return c;
    }

    /// <summary>Shrink candidates of an array of values: all at once toward the anchor, then one element at a time.</summary>
    public static IEnumerable<double[]> ShrinkValues(double[] v, Domain d)
    {
        if (v.Any(x => x != d.Anchor)) yield return v.Select(_ => d.Anchor).ToArray();
        var rounded = v.Select(x => SimplerValues(x, d).LastOrDefault(double.NaN)).ToArray();
        if (rounded.Count(x => !double.IsNaN(x)) > 1)
            yield return v.Select((x, i) => double.IsNaN(rounded[i]) ? x : rounded[i]).ToArray();
        for (int i = 0; i < v.Length; i++)
            foreach (var c in SimplerValues(v[i], d))
            {
                var w = (double[])v.Clone();
                w[i] = c;
                yield return w;
            }
    }

    /// <summary>A random permutation of 0..n-1.</summary>
    public static int[] Permutation(System.Random rng, int n) => Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();

    /// <summary>A random subset of 0..n-1 (sorted).</summary>
    public static int[] Subset(System.Random rng, int n, bool nonEmpty = false)
    {
        while (true)
        {
            var s = Enumerable.Range(0, n).Where(_ => rng.Next(2) == 1).ToArray();
            if (!nonEmpty || s.Length > 0 || n == 0) return s;
        }
    }

    /// <summary>Random shape with the given number of elements (rank 0 to 3).</summary>
    public static Shape Refactor(System.Random rng, int size)
    {
        var options = new List<int[]> { new[] { size }, new[] { 1, size }, new[] { size, 1 } };
        if (size == 1) options.Add([]);
        for (int a = 2; a < size; a++)
            if (size % a == 0)
            {
                options.Add([a, size / a]);
                for (int b = 2; b < size / a; b++)
                    if (size / a % b == 0) options.Add([a, b, size / a / b]);
            }
        return new Shape(options[rng.Next(options.Count)]);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Primitive cases: one differentiable operation applied to random operands.
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>What a case's parameters are drawn from: the operand shapes and a seed for the rest (axes, indices, ...).</summary>
public sealed record OpParams(Shape[] Shapes, int ShapeIndex, int Seed)
{
    /// <summary>The parameters' random number generator (the same for every call with this seed).</summary>
    public System.Random Rng() => Gens.Rng(Seed);
}

/// <summary>A concrete operation: a readable description of its parameters and the function of the operands.</summary>
public sealed record OpInstance(string Params, Func<Tensor[], Tensor> F);

/// <summary>A differentiable operation under test, its operand shapes and domains, and how to build an instance.</summary>
public sealed class OpSpec
{
    public required string Name { get; init; }
    /// <summary>Operand shape choices; index 0 is the simplest.</summary>
    public required Shape[][] Shapes { get; init; }
    /// <summary>The domain of each operand (the last one repeats).</summary>
    public required Domain[] Domains { get; init; }
    public required Func<OpParams, OpInstance> Build { get; init; }
    /// <summary>A condition on all operands together (no near-ties, away from branch cuts, ...).</summary>
    public Func<Shape[], double[][], bool>? Joint { get; init; }
    /// <summary>A generator of all operands' values, where the domains alone cannot express the condition.</summary>
    public Func<Shape[], Gen<double[][]>>? Values { get; init; }
    public int Order { get; init; } = 2;

    public Domain DomainOf(int operand) => Domains[Math.Min(operand, Domains.Length - 1)];

    public override string ToString() => Name;

    public bool Valid(Shape[] shapes, double[][] values) =>
        values.Length == shapes.Length &&
        values.Select((v, k) => v.Length == shapes[k].Size && v.All(DomainOf(k).Contains)).All(b => b) &&
        (Joint?.Invoke(shapes, values) ?? true);

    private Gen<double[][]> GenValues(Shape[] shapes)
    {
        var g = Values?.Invoke(shapes) ?? Gens.All(shapes.Select((s, k) => Gens.Values(DomainOf(k), s.Size)));
        return g.Where(v => Valid(shapes, v));
    }

    public Gen<OpCase> Gen =>
        FsCheck.Fluent.Gen.Choose(0, Shapes.Length - 1).SelectMany(si =>
            FsCheck.Fluent.Gen.Choose(0, 999).SelectMany(seed =>
                GenValues(Shapes[si]).Select(v => new OpCase(this, si, seed, v))));

    public Arbitrary<OpCase> Arbitrary => Arb.From(Gen, Shrink);

    private IEnumerable<OpCase> Shrink(OpCase c)
    {
        for (int j = 0; j < c.ShapeIndex; j++)
        {
            var shapes = Shapes[j];
            var v = shapes.Select((s, k) => Gens.Resize(c.Values[k], s.Size)).ToArray();
            if (Valid(shapes, v)) yield return new OpCase(this, j, c.Seed, v);
        }
        foreach (var s in new[] { 0, c.Seed / 2 }.Distinct())
            if (s < c.Seed) yield return new OpCase(this, c.ShapeIndex, s, c.Values);
        for (int k = 0; k < c.Values.Length; k++)
            foreach (var w in Gens.ShrinkValues(c.Values[k], DomainOf(k)))
            {
                var v = (double[][])c.Values.Clone();
                v[k] = w;
                if (Valid(c.Shapes, v)) yield return new OpCase(this, c.ShapeIndex, c.Seed, v);
            }
    }
}

/// <summary>One random case of an <see cref="OpSpec"/>: prints the operation, its parameters and C# for its inputs.</summary>
public sealed class OpCase(OpSpec spec, int shapeIndex, int seed, double[][] values)
{
    public OpSpec Spec { get; } = spec;
    public int ShapeIndex { get; } = shapeIndex;
    public int Seed { get; } = seed;
    public double[][] Values { get; } = values;
    public Shape[] Shapes => Spec.Shapes[ShapeIndex];
    public OpInstance Instance => Spec.Build(new OpParams(Shapes, ShapeIndex, Seed));
    public Tensor[] Args => Values.Select((v, k) => Tensor.FromArray(v, Shapes[k])).ToArray();

    /// <summary>Central-difference step of the property tests' CheckGrads calls (float64). JAX's default 1e-4 leaves a
    /// truncation error of eps² times the third derivative over 6, which the order-2 reverse checks (VJP of VJP, whose
    /// third derivatives grow like the output squared) push past the 1e-5 tolerance near the edges of the domains;
    /// 1e-5 cuts it 100-fold while the rounding error (about 1e-16·|f|/eps) stays near 1e-11.</summary>
    public const double Eps = 1e-5;

    /// <summary>CheckGrads to the spec's order in both modes, differentiating with respect to every operand.</summary>
    public void CheckGrads()
    {
        var f = Instance.F;
        Transforms.CheckGrads<Tensor[], Tensor>(xs => f(xs), Args, Spec.Order, GradModes.Both, eps: Eps);
    }

    public override string ToString()
    {
        string p;
        try { p = Instance.Params; } catch (Exception e) { p = $"<parameters failed: {e.Message}>"; }
        var args = Values.Select((v, k) => $"\n    x{k} = {Fmt.Tensor(v, Shapes[k])}");
        return $"{Spec.Name}({p}) on shapes {string.Join(" and ", Shapes.Select(TestShapes.Str))} (shape choice {ShapeIndex}, seed {Seed}){string.Concat(args)}";
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Pipelines: random compositions of tensor functions (elementwise, structural, reductions, indexing, linear algebra).
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>Which properties a pipeline stage has.</summary>
[Flags]
public enum StageKind
{
    /// <summary>Linear in its input (the transpose properties use only these).</summary>
    Linear = 1,
    /// <summary>Infinitely differentiable (finite differences may be compared with it).</summary>
    Smooth = 2,
    /// <summary>Has kinks or ties (max, abs, relu, ...): both AD modes must still agree.</summary>
    NonSmooth = 4,
}

/// <summary>One stage of a pipeline: a named operation whose parameters come from a seed and its input's shape.</summary>
public sealed record Stage(string Name, int Seed)
{
    public override string ToString() => $"{Name}#{Seed}";
}

/// <summary>The catalogue of pipeline stages. Each builds, from the input's shape and a random generator, a readable
/// description and the output; it returns null where it does not apply (the pipeline then falls back).</summary>
public static class Stages
{
    private const int MaxSize = 48;
    private static readonly DType F64 = DType.Float64;

    public delegate (string Desc, Tensor Out)? Apply(Tensor x, System.Random rng);

    public sealed record Def(string Name, StageKind Kind, Apply Run);

    private static double R2(System.Random rng, double lo = -1, double hi = 1) => Math.Round(lo + (hi - lo) * rng.NextDouble(), 2);

    /// <summary>A constant with 2-decimal values in [-1, 1] and its C# text.</summary>
    public static (Tensor T, string Text) Const(System.Random rng, Shape s, double lo = -1, double hi = 1)
    {
        var v = Enumerable.Range(0, s.Size).Select(_ => R2(rng, lo, hi)).ToArray();
        return (Tensor.FromArray(v, s), Fmt.Tensor(v, s));
    }

    private static (string, Tensor)? R(string desc, Tensor t) => t.Size == 0 || t.Size > MaxSize ? null : (desc, t);

    private static Def D(string name, StageKind k, Apply run) => new(name, k, run);
    private static Def E(string name, Func<Tensor, Tensor> f) => new(name, StageKind.Smooth, (x, _) => (name, f(x)));

    private static readonly StageKind L = StageKind.Linear | StageKind.Smooth;

    public static readonly Def[] All =
    [
        // ---- linear ----
        D("scale", L, (x, rng) => { var (c, t) = Const(rng, x.Shape); return ($"x * {t}", x * c); }),
        D("matmul_right", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var (w, t) = Const(rng, new Shape(x.Shape[^1], rng.Next(1, 4)));
            return R($"matmul(x, {t})", Np.Matmul(x, w));
        }),
        D("tensordot_left", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var (a, t) = Const(rng, new Shape(rng.Next(1, 4), x.Shape[0]));
            return R($"tensordot({t}, x, [1], [0])", Np.Tensordot(a, x, [1], [0]));
        }),
        D("transpose", L, (x, rng) =>
        {
            if (x.Rank < 2) return null;
            var perm = Gens.Permutation(rng, x.Rank);
            return ($"transpose({Fmt.Ints(perm)})", Lax.Transpose(x, perm));
        }),
        D("reshape", L, (x, rng) => { var s = Gens.Refactor(rng, x.Size); return ($"reshape({TestShapes.Str(s)})", Lax.Reshape(x, s)); }),
        D("slice", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var start = x.Shape.Select(n => rng.Next(n)).ToArray();
            var limit = x.Shape.Select((n, d) => rng.Next(start[d] + 1, n + 1)).ToArray();
            var strides = x.Shape.Select(_ => rng.Next(1, 3)).ToArray();
            return ($"slice({Fmt.Ints(start)}, {Fmt.Ints(limit)}, {Fmt.Ints(strides)})", Lax.Slice(x, start, limit, strides));
        }),
        D("rev", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var dims = Gens.Subset(rng, x.Rank, nonEmpty: true);
            return ($"rev({Fmt.Ints(dims)})", Lax.Rev(x, dims));
        }),
        D("pad", L, (x, rng) =>
        {
            var cfg = x.Shape.Select(n =>
            {
                while (true)
                {
                    int lo = rng.Next(-1, 3), hi = rng.Next(-1, 3), interior = rng.Next(0, 2);
                    if (n + lo + hi + interior * (n - 1) >= 1) return (lo, hi, interior);
                }
            }).ToArray();
            return R($"pad(0, [{string.Join(", ", cfg.Select(c => $"({c.lo}, {c.hi}, {c.interior})"))}])", Lax.Pad(x, Tensor.Scalar(0.0), cfg));
        }),
        D("sum", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var axes = Gens.Subset(rng, x.Rank, nonEmpty: true);
            bool keep = rng.Next(2) == 1;
            return ($"sum(axes={Fmt.Ints(axes)}, keepDims={keep})", Np.Sum(x, axes, keep));
        }),
        D("cumsum", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int axis = rng.Next(x.Rank);
            bool rev = rng.Next(2) == 1;
            return ($"cumsum(axis={axis}, reverse={rev})", Lax.Cumsum(x, axis, rev));
        }),
        D("broadcast", L, (x, rng) =>
        {
            int k = rng.Next(2, 4);
            var s = new Shape([k, .. x.Shape]);
            return R($"broadcast_in_dim({TestShapes.Str(s)})", Lax.BroadcastInDim(x, s, Enumerable.Range(1, x.Rank).ToArray()));
        }),
        D("take", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int axis = rng.Next(x.Rank);
            var idx = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => rng.Next(x.Shape[axis])).ToArray();
            return R($"take({Fmt.Ints(idx)}, axis={axis})", Np.Take(x, Tensor.FromArray(idx), axis));
        }),
        D("scatter_add_into_zeros", L, (x, rng) =>
        {
            int m = x.Size + rng.Next(0, 3);
            var idx = Enumerable.Range(0, x.Size).Select(_ => rng.Next(m)).ToArray();
            return ($"zeros({m}).At[{Fmt.Ints(idx)}].Add(ravel(x))", Np.Zeros(new Shape(m), F64).At[Tensor.FromArray(idx)].Add(Np.Ravel(x)));
        }),
        D("concat_with_rev", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int axis = rng.Next(x.Rank);
            return R($"concatenate([x, -2 * rev(x, [{axis}])], {axis})", Np.Concatenate([x, Lax.Rev(x, [axis]) * -2.0], axis));
        }),
        D("dynamic_slice", L, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var sizes = x.Shape.Select(n => rng.Next(1, n + 1)).ToArray();
            var starts = x.Shape.Select(n => rng.Next(-1, n + 1)).ToArray();
            return ($"dynamic_slice({Fmt.Ints(starts)}, {Fmt.Ints(sizes)})", Lax.DynamicSlice(x, starts.Select(i => Tensor.Scalar(i)).ToArray(), sizes));
        }),
        D("dynamic_update_slice_into_zeros", L, (x, rng) =>
        {
            var big = new Shape(x.Shape.Select(n => n + rng.Next(0, 2)).ToArray());
            var starts = big.Select(n => rng.Next(-1, n + 1)).ToArray();
            return R($"dynamic_update_slice(zeros({TestShapes.Str(big)}), x, {Fmt.Ints(starts)})",
                Lax.DynamicUpdateSlice(Np.Zeros(big, F64), x, starts.Select(i => Tensor.Scalar(i)).ToArray()));
        }),
        D("where_constant_mask", L, (x, rng) =>
        {
            var mask = Enumerable.Range(0, x.Size).Select(_ => rng.Next(2) == 1).ToArray();
            return ($"where({Fmt.Bools(mask, x.Shape)}, x, -0.5 * x)", Np.Where(Tensor.FromArray(mask, x.Shape), x, x * -0.5));
        }),
        D("convert_weak_strong", L, (x, _) => ("convert(weak) -> convert(strong)", Lax.ConvertElementType(Lax.ConvertElementType(x, F64, true), F64, false))),
        D("expand_dims", L, (x, rng) => { int p = rng.Next(x.Rank + 1); return ($"expand_dims([{p}])", Lax.ExpandDims(x, [p])); }),

        // ---- smooth, nonlinear ----
        E("sin", Np.Sin),
        E("tanh", Np.Tanh),
        E("softplus", Nn.Softplus),
        E("logistic", Nn.Sigmoid),
        E("exp(-x^2)", x => Np.Exp(-(x * x))),
        E("0.5x^2-x", x => x * x * 0.5 - x),
        E("log(1+x^2)", x => Np.Log1p(x * x)),
        E("sqrt(1+x^2)", x => Np.Sqrt(x * x + 1.0)),
        E("normalize", x => x / Np.Sqrt(Np.Sum(x * x) + 1.0)),
        D("softmax", StageKind.Smooth, (x, rng) => { if (x.Rank == 0) return null; int a = rng.Next(x.Rank); return ($"softmax(axis={a})", Nn.Softmax(x, a)); }),
        D("logsumexp", StageKind.Smooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int a = rng.Next(x.Rank);
            bool keep = rng.Next(2) == 1;
            return ($"logsumexp(axis={a}, keepDims={keep})", Nn.LogSumExp(x, a, keep));
        }),
        D("cumprod", StageKind.Smooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int a = rng.Next(x.Rank);
            bool rev = rng.Next(2) == 1;
            return ($"cumprod(axis={a}, reverse={rev})", Lax.Cumprod(x, a, rev));
        }),
        D("prod", StageKind.Smooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var axes = Gens.Subset(rng, x.Rank, nonEmpty: true);
            bool keep = rng.Next(2) == 1;
            return ($"prod(axes={Fmt.Ints(axes)}, keepDims={keep})", Np.Prod(x, axes, keep));
        }),
        D("outer_self", StageKind.Smooth, (x, _) => x.Rank > 1 ? null : R("outer(x, x)", Np.Outer(x, x))),
        D("x*rev(x)", StageKind.Smooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var dims = Gens.Subset(rng, x.Rank, nonEmpty: true);
            return ($"x * rev(x, {Fmt.Ints(dims)})", x * Lax.Rev(x, dims));
        }),
        D("matmul_self_transposed", StageKind.Smooth, (x, _) =>
        {
            if (x.Rank == 0) return null;
            return R("matmul(x, swapaxes(x))", x.Rank == 1 ? Np.Matmul(x, x) : Np.Matmul(x, Np.SwapAxes(x, -1, -2)));
        }),
        D("scatter_add_self", StageKind.Smooth, (x, rng) =>
        {
            int k = rng.Next(1, 5);
            var i1 = Enumerable.Range(0, k).Select(_ => rng.Next(x.Size)).ToArray();
            var i2 = Enumerable.Range(0, k).Select(_ => rng.Next(x.Size)).ToArray();
            var y = Np.Ravel(x);
            var r = y.At[Tensor.FromArray(i1)].Add(Np.Sin(y[Tensor.FromArray(i2)]));
            return ($"ravel(x).At[{Fmt.Ints(i1)}].Add(sin(ravel(x)[{Fmt.Ints(i2)}])) reshaped", Lax.Reshape(r, x.Shape));
        }),
        D("scatter_set_self", StageKind.Smooth, (x, rng) =>
        {
            int k = rng.Next(1, 4);
            var i1 = Enumerable.Range(0, k).Select(_ => rng.Next(x.Size)).ToArray();
            var y = Np.Ravel(x);
            var r = y.At[Tensor.FromArray(i1)].Set(Np.Tanh(y[Tensor.FromArray(i1)] * 2.0));
            return ($"ravel(x).At[{Fmt.Ints(i1)}].Set(tanh(2 ravel(x)[same])) reshaped", Lax.Reshape(r, x.Shape));
        }),
        D("dynamic_update_slice_self", StageKind.Smooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var sizes = x.Shape.Select(n => rng.Next(1, n + 1)).ToArray();
            var s1 = x.Shape.Select(n => rng.Next(0, n)).ToArray();
            var s2 = x.Shape.Select(n => rng.Next(0, n)).ToArray();
            var part = Np.Tanh(Lax.DynamicSlice(x, s1.Select(i => Tensor.Scalar(i)).ToArray(), sizes));
            return ($"dynamic_update_slice(x, tanh(dynamic_slice(x, {Fmt.Ints(s1)}, {Fmt.Ints(sizes)})), {Fmt.Ints(s2)})",
                Lax.DynamicUpdateSlice(x, part, s2.Select(i => Tensor.Scalar(i)).ToArray()));
        }),

        // ---- non-smooth (kinks and ties) ----
        D("relu", StageKind.NonSmooth, (x, _) => ("relu", Nn.Relu(x))),
        D("abs", StageKind.NonSmooth, (x, _) => ("abs", Np.Abs(x))),
        D("clip", StageKind.NonSmooth, (x, _) => ("clip(x, -0.5, 0.5)", Np.Clip(x, -0.5, 0.5))),
        D("max_reduce", StageKind.NonSmooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            var axes = Gens.Subset(rng, x.Rank, nonEmpty: true);
            bool keep = rng.Next(2) == 1;
            return ($"max(axes={Fmt.Ints(axes)}, keepDims={keep})", Np.Max(x, axes, keep));
        }),
        D("min_reduce", StageKind.NonSmooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int a = rng.Next(x.Rank);
            return ($"min(axis={a})", Np.Min(x, a));
        }),
        D("maximum_with_rev", StageKind.NonSmooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            return ("maximum(x, rev(x))", Np.Maximum(x, Lax.Rev(x, Enumerable.Range(0, x.Rank).ToArray())));
        }),
        D("cummax", StageKind.NonSmooth, (x, rng) =>
        {
            if (x.Rank == 0) return null;
            int a = rng.Next(x.Rank);
            return ($"cummax(axis={a})", Lax.Cummax(x, a));
        }),
        D("where_x_positive", StageKind.NonSmooth, (x, _) => ("where(x > 0, x*x, sin(x))", Np.Where(x > 0.0, x * x, Np.Sin(x)))),
    ];

    public static readonly Dictionary<string, Def> ByName = All.ToDictionary(d => d.Name);

    public static string[] Names(StageKind anyOf) => All.Where(d => (d.Kind & anyOf) != 0).Select(d => d.Name).ToArray();

    /// <summary>Runs the stages on x; a stage that does not apply to its input's shape becomes the fallback.</summary>
    public static Tensor Run(IEnumerable<Stage> stages, Tensor x, bool linear, List<string>? log = null)
    {
        foreach (var st in stages)
        {
            var r = ByName[st.Name].Run(x, Gens.Rng(st.Seed, st.Name.Length));
            if (r is null)
            {
                var fb = linear ? ByName["convert_weak_strong"] : ByName["sin"];
                r = fb.Run(x, Gens.Rng(st.Seed))!;
                log?.Add($"{st.Name} (does not apply to {TestShapes.Str(x.Shape)}, so: {r.Value.Desc})");
            }
            else log?.Add(r.Value.Desc);
            x = r.Value.Out;
        }
        return x;
    }
}

/// <summary>A random composition of stages applied to one input, plus a seed for scalarizing weights and directions.</summary>
public sealed class PipelineCase(int shapeIndex, Stage[] stages, double[] values, int vecSeed, bool linear)
{
    public int ShapeIndex { get; } = shapeIndex;
    public Stage[] Stages { get; } = stages;
    public double[] Values { get; } = values;
    public int VecSeed { get; } = vecSeed;
    public bool Linear { get; } = linear;
    public Shape Shape => TestShapes.Jax[ShapeIndex];
    public Tensor X => Tensor.FromArray(Values, Shape);

    /// <summary>The composed function.</summary>
    public Tensor F(Tensor x) => PropertyTests.Stages.Run(Stages, x, Linear);

    /// <summary>A random tensor of the given shape from this case's vector seed (salt picks one of several).</summary>
    public Tensor Random(Shape s, int salt) => PropertyTests.Stages.Const(Gens.Rng(VecSeed, 1000 + salt), s).T;

    /// <summary>The scalar function sum(w ⊙ f(x)) with fixed random weights w.</summary>
    public Tensor Scalar(Tensor x)
    {
        var y = F(x);
        return Np.Sum(y * Random(y.Shape, 0));
    }

    public override string ToString()
    {
        var log = new List<string>();
        string outShape;
        try { outShape = TestShapes.Str(PropertyTests.Stages.Run(Stages, X, Linear, log).Shape); }
        catch (Exception e) { outShape = $"<failed: {e.GetType().Name}: {e.Message}>"; }
        return $"{(Linear ? "linear " : "")}pipeline [{string.Join(", ", Stages.Select(s => s.ToString()))}] (vector seed {VecSeed}) on x = {Fmt.Tensor(Values, Shape)}\n" +
               $"    {string.Join("\n    -> ", log.Prepend(TestShapes.Str(Shape)))}\n    => output {outShape}";
    }

    /// <summary>Pipelines of 1 to maxStages stages drawn from the named stages, on inputs in [-2, 2].</summary>
    public static Arbitrary<PipelineCase> Arbitrary(string[] pool, bool linear, int maxStages = 4)
    {
        var gen =
            Gen.Choose(0, TestShapes.Jax.Length - 1).SelectMany(si =>
            Gen.Choose(1, maxStages).SelectMany(n =>
            Gens.All(Enumerable.Range(0, n).Select(_ => Gen.Elements(pool).SelectMany(name => Gen.Choose(0, 999).Select(seed => new Stage(name, seed))))).SelectMany(st =>
            Gens.Values(Domain.Real, TestShapes.Jax[si].Size).SelectMany(v =>
            Gen.Choose(0, 999).Select(vs => new PipelineCase(si, st, v, vs, linear))))));
        return Arb.From(gen, c => c.Shrink());
    }

    private IEnumerable<PipelineCase> Shrink()
    {
        for (int i = 0; i < Stages.Length && Stages.Length > 1; i++)
            yield return new PipelineCase(ShapeIndex, Stages.Where((_, j) => j != i).ToArray(), Values, VecSeed, Linear);
        for (int j = 0; j < ShapeIndex; j++)
            yield return new PipelineCase(j, Stages, Gens.Resize(Values, TestShapes.Jax[j].Size), VecSeed, Linear);
        for (int i = 0; i < Stages.Length; i++)
            if (Stages[i].Seed != 0)
            {
                var st = (Stage[])Stages.Clone();
                st[i] = st[i] with { Seed = 0 };
                yield return new PipelineCase(ShapeIndex, st, Values, VecSeed, Linear);
            }
        if (VecSeed != 0) yield return new PipelineCase(ShapeIndex, Stages, Values, 0, Linear);
        foreach (var v in Gens.ShrinkValues(Values, Domain.Real))
            yield return new PipelineCase(ShapeIndex, Stages, v, VecSeed, Linear);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Expression trees over one or two tensor variables.
// ---------------------------------------------------------------------------------------------------------------------

/// <summary>A node of a random expression tree. Every node knows its output shape; leaves adapt the variables to the
/// shape they stand for, so variable shapes (and values) can shrink independently of the tree.</summary>
public abstract record Expr(Shape Shape)
{
    public abstract Tensor Eval(Tensor[] vars);
    /// <summary>Readable infix/function notation; variables whose shape differs from the leaf's show the adaptation.</summary>
    public abstract string Render(Shape[] varShapes);
    public abstract IReadOnlyList<Expr> Children { get; }
    public abstract Expr WithChildren(IReadOnlyList<Expr> children);
    public int Size => 1 + Children.Sum(c => c.Size);
    public int Depth => 1 + Children.Select(c => c.Depth).DefaultIfEmpty(0).Max();
    public override string ToString() => Render([]);
}

/// <summary>Variable x (0) or y (1), adapted to the leaf's shape: as is, reshaped, broadcast, or its flattened values
/// cut or tiled to the size.</summary>
public sealed record VarExpr(int Index, Shape LeafShape) : Expr(LeafShape)
{
    public static string Name(int i) => i == 0 ? "x" : "y";

    public override Tensor Eval(Tensor[] vars) => Fit(vars[Index], Shape);

    public static Tensor Fit(Tensor v, Shape s)
    {
        if (v.Shape == s) return v;
        if (v.Size == s.Size) return Lax.Reshape(v, s);
        if (Broadcastable(v.Shape, s)) return Np.BroadcastTo(v, s);
        var flat = Np.Ravel(v);
        if (flat.Size < s.Size) flat = Np.Concatenate(Enumerable.Repeat(flat, (s.Size + flat.Size - 1) / flat.Size).ToArray());
        return Lax.Reshape(Lax.Slice(flat, [0], [s.Size]), s);
    }

    public static bool Broadcastable(Shape from, Shape to) =>
        from.Rank <= to.Rank && Enumerable.Range(0, from.Rank).All(i => from[from.Rank - 1 - i] == 1 || from[from.Rank - 1 - i] == to[to.Rank - 1 - i]);

    public override string Render(Shape[] varShapes) =>
        Index < varShapes.Length && varShapes[Index] != Shape ? $"fit({Name(Index)}, {TestShapes.Str(Shape)})" : Name(Index);

    public override IReadOnlyList<Expr> Children => [];
    public override Expr WithChildren(IReadOnlyList<Expr> children) => this;
}

/// <summary>A scalar constant.</summary>
public sealed record ConstExpr(double Value) : Expr(Shape.Scalar)
{
    public override Tensor Eval(Tensor[] vars) => Tensor.Scalar(Value);
    public override string Render(Shape[] varShapes) => Fmt.D(Value);
    public override IReadOnlyList<Expr> Children => [];
    public override Expr WithChildren(IReadOnlyList<Expr> children) => this;
}

/// <summary>A shape-preserving function: smooth elementwise maps with domain-safe wrappers (log(1+a²), sqrt(1+a²),
/// isru(a) = a/sqrt(1+a²), exp(-a²), ...), or cumsum/softmax along an axis.</summary>
public sealed record UnaryExpr(string Op, int Axis, Expr A) : Expr(A.Shape)
{
    public static readonly string[] Elementwise =
        ["sin", "cos", "tanh", "atan", "logistic", "log(1+a²)", "sqrt(1+a²)", "a/sqrt(1+a²)", "exp(-a²)", "0.5a²", "-a", "softplus"];
    public static readonly string[] AlongAxis = ["cumsum", "softmax"];

    public override Tensor Eval(Tensor[] vars)
    {
        var a = A.Eval(vars);
        return Op switch
        {
            "sin" => Np.Sin(a),
            "cos" => Np.Cos(a),
            "tanh" => Np.Tanh(a),
            "atan" => Np.Arctan(a),
            "logistic" => Nn.Sigmoid(a),
            "log(1+a²)" => Np.Log1p(a * a),
            "sqrt(1+a²)" => Np.Sqrt(1.0 + a * a),
            "a/sqrt(1+a²)" => a * Lax.Rsqrt(1.0 + a * a),
            "exp(-a²)" => Np.Exp(-Np.Square(a)),
            "0.5a²" => 0.5 * Lax.IntegerPow(a, 2),
            "-a" => -a,
            "softplus" => Nn.Softplus(a),
            "cumsum" => Lax.Cumsum(a, Axis),
            "softmax" => Nn.Softmax(a, Axis),
            _ => throw new InvalidOperationException(Op),
        };
    }

    public override string Render(Shape[] v)
    {
        var a = A.Render(v);
        return Op switch
        {
            "-a" => $"-({a})",
            "cumsum" or "softmax" => $"{Op}({a}, axis={Axis})",
            "log(1+a²)" => $"log(1 + ({a})²)",
            "sqrt(1+a²)" => $"sqrt(1 + ({a})²)",
            "a/sqrt(1+a²)" => $"isru({a})",
            "exp(-a²)" => $"exp(-({a})²)",
            "0.5a²" => $"0.5·({a})²",
            _ => $"{Op}({a})",
        };
    }

    public override IReadOnlyList<Expr> Children => [A];
    public override Expr WithChildren(IReadOnlyList<Expr> c) => this with { A = c[0] };
}

/// <summary>A broadcasting binary operation (NumPy rules): +, −, ×, a/(1+b²), sqrt(1+a²+b²).</summary>
public sealed record BinaryExpr(string Op, Expr A, Expr B) : Expr(Np.BroadcastShapes(A.Shape, B.Shape))
{
    public static readonly string[] Ops = ["+", "-", "*", "a/(1+b²)", "sqrt(1+a²+b²)"];

    public override Tensor Eval(Tensor[] vars)
    {
        var a = A.Eval(vars);
        var b = B.Eval(vars);
        return Op switch
        {
            "+" => a + b,
            "-" => a - b,
            "*" => a * b,
            "a/(1+b²)" => a / (1.0 + b * b),
            "sqrt(1+a²+b²)" => Np.Sqrt(1.0 + a * a + b * b),
            _ => throw new InvalidOperationException(Op),
        };
    }

    public override string Render(Shape[] v)
    {
        var (a, b) = (A.Render(v), B.Render(v));
        return Op switch
        {
            "a/(1+b²)" => $"({a}) / (1 + ({b})²)",
            "sqrt(1+a²+b²)" => $"sqrt(1 + ({a})² + ({b})²)",
            _ => $"({a} {Op} {b})",
        };
    }

    public override IReadOnlyList<Expr> Children => [A, B];
    public override Expr WithChildren(IReadOnlyList<Expr> c) => this with { A = c[0], B = c[1] };
}

/// <summary>A reduction over one axis, with or without keepDims: sum, mean, logsumexp, prod.</summary>
public sealed record ReduceExpr(string Op, int Axis, bool KeepDims, Expr A) : Expr(Reduced(A.Shape, Axis, KeepDims))
{
    public static readonly string[] Ops = ["sum", "mean", "logsumexp", "prod"];

    private static Shape Reduced(Shape s, int axis, bool keep) =>
        new(keep ? s.Select((d, i) => i == axis ? 1 : d).ToArray() : s.Where((_, i) => i != axis).ToArray());

    public override Tensor Eval(Tensor[] vars)
    {
        var a = A.Eval(vars);
        return Op switch
        {
            "sum" => Np.Sum(a, Axis, KeepDims),
            "mean" => Np.Mean(a, Axis, KeepDims),
            "logsumexp" => Nn.LogSumExp(a, Axis, KeepDims),
            "prod" => Np.Prod(a, Axis, KeepDims),
            _ => throw new InvalidOperationException(Op),
        };
    }

    public override string Render(Shape[] v) => $"{Op}({A.Render(v)}, axis={Axis}{(KeepDims ? ", keepdims" : "")})";
    public override IReadOnlyList<Expr> Children => [A];
    public override Expr WithChildren(IReadOnlyList<Expr> c) => this with { A = c[0] };
}

/// <summary>A reshape to the node's shape.</summary>
public sealed record ReshapeExpr(Shape To, Expr A) : Expr(To)
{
    public override Tensor Eval(Tensor[] vars) => Lax.Reshape(A.Eval(vars), To);
    public override string Render(Shape[] v) => $"reshape({A.Render(v)}, {TestShapes.Str(To)})";
    public override IReadOnlyList<Expr> Children => [A];
    public override Expr WithChildren(IReadOnlyList<Expr> c) => this with { A = c[0] };
}

/// <summary>A transpose (lax.transpose: output dim i is input dim Perm[i]).</summary>
public sealed record TransposeExpr(int[] Perm, Expr A) : Expr(new Shape(Perm.Select(p => A.Shape[p]).ToArray()))
{
    public override Tensor Eval(Tensor[] vars) => Lax.Transpose(A.Eval(vars), Perm);
    public override string Render(Shape[] v) => $"transpose({A.Render(v)}, {Fmt.Ints(Perm)})";
    public override IReadOnlyList<Expr> Children => [A];
    public override Expr WithChildren(IReadOnlyList<Expr> c) => this with { A = c[0] };
}

/// <summary>Random typed expression trees: generated top-down from the shape each node must have.</summary>
public static class ExprGen
{
    private const int MaxRank = 4, MaxSize = 72;

    /// <summary>A tree of the given shape and depth budget over nVars variables.</summary>
    public static Gen<Expr> Tree(Shape shape, int depth, int nVars)
    {
        var leaf = Gen.Choose(0, nVars - 1).Select(i => (Expr)new VarExpr(i, shape));
        if (depth <= 0) return leaf;
        var options = new List<(int, Gen<Expr>)>
        {
            (1, leaf),
            (3, Gen.Elements(UnaryExpr.Elementwise).SelectMany(op => Tree(shape, depth - 1, nVars).Select(a => (Expr)new UnaryExpr(op, -1, a)))),
            (4, Gen.Elements(BinaryExpr.Ops).SelectMany(op =>
                    Tree(shape, depth - 1, nVars).SelectMany(a =>
                    BroadcastsInto(shape).SelectMany(bs =>
                    (bs.Rank == 0 ? Gen.Frequency((3, Tree(bs, depth - 1, nVars)), (1, Gen.Choose(-20, 20).Select(k => (Expr)new ConstExpr(k / 10.0))))
                                  : Tree(bs, depth - 1, nVars)).SelectMany(b =>
                    Gen.Elements(false, true).Select(swap => (Expr)(swap ? new BinaryExpr(op, b, a) : new BinaryExpr(op, a, b)))))))),
        };
        if (shape.Rank > 0)
            options.Add((1, Gen.Elements(UnaryExpr.AlongAxis).SelectMany(op => Gen.Choose(0, shape.Rank - 1).SelectMany(ax =>
                Tree(shape, depth - 1, nVars).Select(a => (Expr)new UnaryExpr(op, ax, a))))));
        // A reduction whose input has one more (or one larger) axis.
        if (shape.Rank < MaxRank && shape.Size * 3 <= MaxSize)
            options.Add((2, Gen.Elements(ReduceExpr.Ops).SelectMany(op => Gen.Choose(2, 3).SelectMany(k => Gen.Elements(false, true).SelectMany(keep =>
            {
                var ones = Enumerable.Range(0, shape.Rank).Where(d => shape[d] == 1).ToArray();
                if (keep && ones.Length > 0)
                    return Gen.Elements(ones).SelectMany(ax => Tree(new Shape(shape.Select((d, i) => i == ax ? k : d).ToArray()), depth - 1, nVars)
                        .Select(a => (Expr)new ReduceExpr(op, ax, true, a)));
                return Gen.Choose(0, shape.Rank).SelectMany(ax =>
                    Tree(new Shape([.. shape.Take(ax), k, .. shape.Skip(ax)]), depth - 1, nVars).Select(a => (Expr)new ReduceExpr(op, ax, false, a)));
            })))));
        options.Add((1, Gen.Choose(0, 1 << 20).SelectMany(seed =>
        {
            var from = Gens.Refactor(new System.Random(seed), shape.Size);
            return Tree(from, depth - 1, nVars).Select(a => a.Shape == shape ? a : new ReshapeExpr(shape, a));
        })));
        if (shape.Rank >= 2)
            options.Add((1, Gen.Choose(0, 1 << 20).SelectMany(seed =>
            {
                var perm = Gens.Permutation(new System.Random(seed), shape.Rank);
                var from = new int[shape.Rank];
                for (int i = 0; i < perm.Length; i++) from[perm[i]] = shape[i];
                return Tree(new Shape(from), depth - 1, nVars).Select(a => (Expr)new TransposeExpr(perm, a));
            })));
        return Gen.Frequency(options.ToArray());
    }

    /// <summary>A shape that broadcasts into s: s itself, s with some dims set to 1, a suffix of s, or [].</summary>
    public static Gen<Shape> BroadcastsInto(Shape s) => Gen.Choose(0, 3).SelectMany(kind => Gen.Choose(0, 1 << 20).Select(seed =>
    {
        var rng = new System.Random(seed);
        return kind switch
        {
            0 => s,
            1 => new Shape(s.Select(d => rng.Next(2) == 0 ? 1 : d).ToArray()),
            2 => new Shape(s.Skip(rng.Next(s.Rank + 1)).ToArray()),
            _ => Shape.Scalar,
        };
    }));

    /// <summary>Simpler trees of the same shape: a variable leaf, a same-shaped child, or a child shrunk in place.</summary>
    public static IEnumerable<Expr> Shrink(Expr e, int nVars)
    {
        if (e is VarExpr or ConstExpr)
        {
            if (e is ConstExpr c && c.Value != 1) yield return new ConstExpr(1);
            if (e is VarExpr v && v.Index > 0) yield return v with { Index = 0 };
            yield break;
        }
        for (int i = 0; i < nVars; i++) yield return new VarExpr(i, e.Shape);
        foreach (var child in e.Children)
            if (child.Shape == e.Shape) yield return child;
        var kids = e.Children;
        for (int k = 0; k < kids.Count; k++)
            foreach (var s in Shrink(kids[k], nVars))
            {
                var copy = kids.ToArray();
                copy[k] = s;
                yield return e.WithChildren(copy);
            }
    }
}

/// <summary>A random expression tree over variables x (and y), their shapes (indices into the JAX test shapes) and values.</summary>
public sealed class ExprCase(Expr tree, int[] varShapes, double[][] values)
{
    public Expr Tree { get; } = tree;
    public int[] VarShapes { get; } = varShapes;
    public double[][] Values { get; } = values;
    public Shape[] Shapes => VarShapes.Select(i => TestShapes.Jax[i]).ToArray();
    public Tensor[] Vars => Values.Select((v, i) => Tensor.FromArray(v, Shapes[i])).ToArray();

    public Tensor Eval(Tensor[] vars) => Tree.Eval(vars);

    /// <summary>sum(tree(x, y)): the scalar whose gradient is checked.</summary>
    public Tensor Scalar(Tensor[] vars) => Np.Sum(Tree.Eval(vars));

    public override string ToString()
    {
        var names = Values.Select((_, i) => VarExpr.Name(i)).ToArray();
        var vars = Values.Select((v, i) => $"\n    {names[i]} = {Fmt.Tensor(v, Shapes[i])}");
        return $"f({string.Join(", ", names)}) = {Tree.Render(Shapes)}    (shape {TestShapes.Str(Tree.Shape)}, {Tree.Size} nodes){string.Concat(vars)}";
    }

    /// <summary>Trees over nVars variables of random JAX test shapes, with a random root shape and depth 1..maxDepth.</summary>
    public static Arbitrary<ExprCase> Arbitrary(int nVars, int maxDepth)
    {
        var gen =
            Gens.All(Enumerable.Range(0, nVars).Select(_ => Gen.Choose(0, TestShapes.Jax.Length - 1))).SelectMany(vs =>
            Gen.Choose(0, TestShapes.Jax.Length - 1).SelectMany(root =>
            Gen.Choose(1, maxDepth).SelectMany(depth =>
            ExprGen.Tree(TestShapes.Jax[root], depth, nVars).SelectMany(tree =>
            Gens.All(vs.Select(i => Gens.Values(Domain.Real, TestShapes.Jax[i].Size))).Select(values =>
                new ExprCase(tree, vs, values))))));
        return Arb.From(gen, c => c.Shrink(nVars));
    }

    private IEnumerable<ExprCase> Shrink(int nVars)
    {
        foreach (var t in ExprGen.Shrink(Tree, nVars))
            yield return new ExprCase(t, VarShapes, Values);
        for (int k = 0; k < VarShapes.Length; k++)
            for (int j = 0; j < VarShapes[k]; j++)
            {
                var vs = (int[])VarShapes.Clone();
                vs[k] = j;
                var v = (double[][])Values.Clone();
                v[k] = Gens.Resize(Values[k], TestShapes.Jax[j].Size);
                yield return new ExprCase(Tree, vs, v);
            }
        for (int k = 0; k < Values.Length; k++)
            foreach (var w in Gens.ShrinkValues(Values[k], Domain.Real))
            {
                var v = (double[][])Values.Clone();
                v[k] = w;
                yield return new ExprCase(Tree, VarShapes, v);
            }
    }
}
