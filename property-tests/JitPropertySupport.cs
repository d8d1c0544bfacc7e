using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Jx.PropertyTests.JitEquivalence;

// Support for the "Jit(f)(x) equals eager f(x)" properties: test configuration, shapes, tensors as plain printable data
// with generators that favour edge values (NaN, ±inf, -0.0, integer limits, division by zero, shift widths), the
// comparison of eager and jitted results, and a generator of random well-shaped programs.

/// <summary>How many random cases each property runs (times JX_PROPTEST_SCALE, e.g. 10 for a soak run).</summary>
internal static class JitCases
{
    private static readonly double Scale =
        double.TryParse(Environment.GetEnvironmentVariable("JX_PROPTEST_SCALE"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 1;

    public static Config Cases(int n) => Config.QuickThrowOnFailure.WithMaxTest(Math.Max(1, (int)Math.Round(n * Scale))).WithQuietOnSuccess(true);
}

/// <summary>The shapes of the suite: the standard set (scalar, vectors, matrices with size-1 dims, rank 3, and one
/// shape large enough for the vectorized loops and their scalar tails) and shapes with an empty dimension.</summary>
internal static class JitShapes
{
    public static readonly int[][] Standard = [[], [1], [7], [3, 4], [3, 1], [1, 4], [2, 3, 4], [2, 1, 4], [17, 33]];
    public static readonly int[][] Empty = [[0], [3, 0], [0, 4], [2, 0, 3]];
    public static string Str(int[] s) => "[" + string.Join(",", s) + "]";
    public static int Size(int[] s) => s.Aggregate(1, (a, b) => a * b);
}

/// <summary>Value distributions of generated tensors.</summary>
internal enum Values
{
    /// <summary>Edge values (NaN, ±inf, ±0, ties, integer limits, huge and tiny magnitudes) mixed with moderate ones.</summary>
    General,
    /// <summary>Small finite values with a few NaN/±inf (reductions and products, where order matters for overflow).</summary>
    Bounded,
    /// <summary>Finite values: floats in [-2, 2], integers in [-5, 5] (products that must not overflow).</summary>
    Finite,
}

/// <summary>A tensor as plain data (dtype, shape, values as doubles, exact for every dtype of the suite) that prints
/// as C# which rebuilds it.</summary>
internal sealed record TensorData(DType DType, int[] Shape, double[] Values)
{
    public Tensor ToTensor() => JitData.Make(DType, Shape, Values);

    public override string ToString()
    {
        var vals = Values.Length <= 64 ? string.Join(", ", Values.Select(JitData.Lit)) : string.Join(", ", Values.Take(64).Select(JitData.Lit)) + ", ...";
        return $"{DType}{JitShapes.Str(Shape)} {{ {vals} }}";
    }
}

internal static class JitData
{
    public static readonly DType[] AllDTypes = [DType.Bool, DType.Int32, DType.Int64, DType.UInt32, DType.Float16, DType.BFloat16, DType.Float32, DType.Float64];

    public static string Lit(double v) => double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf"
        : v == 0 && double.IsNegative(v) ? "-0.0" : v.ToString("R", CultureInfo.InvariantCulture);

    public static Tensor Make(DType d, int[] shape, double[] v)
    {
        var s = new Shape(shape);
        return d switch
        {
            DType.Float32 => Tensor.FromArray(v.Select(x => (float)x).ToArray(), s),
            DType.Float64 => Tensor.FromArray(v.ToArray(), s),
            DType.Float16 => Tensor.FromArray(v.Select(x => (Half)x).ToArray(), s),
            DType.BFloat16 => Tensor.FromArray(v.Select(x => (BFloat16)(float)x).ToArray(), s),
            DType.Int32 => Tensor.FromArray(v.Select(x => (int)x).ToArray(), s),
            DType.Int64 => Tensor.FromArray(v.Select(x => (long)x).ToArray(), s),
            DType.UInt32 => Tensor.FromArray(v.Select(x => (uint)x).ToArray(), s),
            DType.Bool => Tensor.FromArray(v.Select(x => x != 0).ToArray(), s),
            _ => throw new ArgumentOutOfRangeException(nameof(d)),
        };
    }

    /// <summary>A scalar constant of the dtype: a splat buffer (compiled into kernels as a literal) or a dense one-element
    /// array (read from a buffer).</summary>
    public static Tensor Scalar(DType d, double v, bool splat) => !splat ? Make(d, [], [v]) : d switch
    {
        DType.Float32 => Tensor.Splat((float)v, Shape.Scalar),
        DType.Float64 => Tensor.Splat(v, Shape.Scalar),
        DType.Float16 => Tensor.Splat((Half)v, Shape.Scalar),
        DType.BFloat16 => Tensor.Splat((BFloat16)(float)v, Shape.Scalar),
        DType.Int32 => Tensor.Splat((int)v, Shape.Scalar),
        DType.Int64 => Tensor.Splat((long)v, Shape.Scalar),
        DType.UInt32 => Tensor.Splat((uint)v, Shape.Scalar),
        DType.Bool => Tensor.Splat(v != 0, Shape.Scalar),
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    /// <summary>The nearest value of the dtype (values are generated as doubles, then stored exactly).</summary>
    public static double Representable(DType d, double v) => d switch
    {
        DType.Float32 => (float)v,
        DType.Float16 => (double)(Half)v,
        DType.BFloat16 => (double)(BFloat16)(float)v,
        _ => v,
    };

    private static readonly double[] FloatSpecials =
    [
        double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0, 1, -1, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -0.25,
        1e-3, 100, -100, 1e10, -1e10, 3e9, -3e9, 4.5e9, 2147483648.0, -2147483649.0, 65504, 65520, -70000, 1e-8, 1.401298464324817e-45,
        3.4028234663852886e38, -3.4028234663852886e38, 1e30, -1e-30,
    ];

    private static readonly double[] DoubleOnlySpecials =
    [
        double.Epsilon, double.MaxValue, -double.MaxValue, 1e300, -1e-300, 1 + Math.Pow(2, -11) + Math.Pow(2, -40), 1 + Math.Pow(2, -8) + Math.Pow(2, -40),
        16777217.0, 9007199254740993.0 - 1,
    ];

    private static readonly double[] Int32Specials = [0, 1, -1, 2, -2, 3, 7, 31, 32, 33, -31, -32, 64, int.MinValue, int.MaxValue, int.MinValue + 1, 65535, 16777217];
    private static readonly double[] Int64Specials = [0, 1, -1, 2, -2, 31, 32, 63, 64, 65, int.MinValue, int.MaxValue, -4294967296.0, 4294967296.0, 4503599627370496.0, -4503599627370497.0];
    private static readonly double[] UInt32Specials = [0, 1, 2, 3, 7, 31, 32, 33, 64, uint.MaxValue, 2147483648.0, 2147483647.0, 65535, 16777217];

    /// <summary>The edge values of a dtype (every pair of them is checked for binary operations).</summary>
    public static double[] Specials(DType d) => (d switch
    {
        DType.Bool => [0.0, 1.0],
        DType.Int32 => Int32Specials,
        DType.Int64 => Int64Specials,
        DType.UInt32 => UInt32Specials,
        DType.Float64 => FloatSpecials.Concat(DoubleOnlySpecials).ToArray(),
        _ => FloatSpecials,
    }).Select(v => Representable(d, v)).ToArray();

    private static Gen<double> FullInt32 => Gen.Choose(0, 65535).SelectMany(hi => Gen.Choose(0, 65535), (hi, lo) => (double)unchecked((int)(((uint)hi << 16) | (uint)lo)));

    public static Gen<double> Element(DType d, Values range)
    {
        var moderate = Gen.Choose(-10000, 10000).Select(i => i / 1000.0);
        var ties = Gen.Choose(-20, 20).Select(i => i / 2.0);
        switch (d)
        {
            case DType.Bool:
                return Gen.Elements(0.0, 1.0);
            case DType.Int32:
                return range == Values.General
                    ? Gen.Frequency((3, Gen.Elements(Int32Specials)), (5, Gen.Choose(-40, 40).Select(i => (double)i)), (2, FullInt32))
                    : Gen.Choose(-5, 5).Select(i => (double)i);
            case DType.Int64:
                return range == Values.General
                    ? Gen.Frequency((3, Gen.Elements(Int64Specials)), (5, Gen.Choose(-40, 40).Select(i => (double)i)), (2, FullInt32.Select(v => v * 1024)))
                    : Gen.Choose(-5, 5).Select(i => (double)i);
            case DType.UInt32:
                return range == Values.General
                    ? Gen.Frequency((3, Gen.Elements(UInt32Specials)), (5, Gen.Choose(0, 40).Select(i => (double)i)), (2, FullInt32.Select(v => (double)unchecked((uint)(int)v))))
                    : Gen.Choose(0, 5).Select(i => (double)i);
        }
        Gen<double> g;
        switch (range)
        {
            case Values.General:
            {
                var specials = d == DType.Float64 ? FloatSpecials.Concat(DoubleOnlySpecials).ToArray() : FloatSpecials;
                int maxExp = d == DType.Float64 ? 300 : 38, minExp = d == DType.Float64 ? -320 : -45;
                var wide = Gen.Choose(-9999, 9999).SelectMany(m => Gen.Choose(minExp, maxExp), (m, e) => m / 1000.0 * Math.Pow(10, e));
                g = Gen.Frequency((3, Gen.Elements(specials)), (5, moderate), (1, ties), (2, wide));
                break;
            }
            case Values.Bounded:
                g = Gen.Frequency((1, Gen.Elements(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -0.0)), (12, Gen.Choose(-3000, 3000).Select(i => i / 1000.0)));
                break;
            default:
                g = Gen.Choose(-2000, 2000).Select(i => i / 1000.0);
                break;
        }
        return g.Select(v => Representable(d, v));
    }

    public static Gen<TensorData> OfShape(DType d, int[] shape, Values range = Values.General) =>
        Gen.ArrayOf(Element(d, range), JitShapes.Size(shape)).Select(v => new TensorData(d, shape, v));
}

/// <summary>How closely a jitted result must match the eager one. Integer and bool results are always compared exactly.</summary>
internal readonly record struct Tol(double Rtol, double Atol, bool ZeroSign)
{
    /// <summary>Bit-exact (NaN positions and the sign of zero included).</summary>
    public static readonly Tol Exact = new(0, 0, true);

    /// <summary>A few ulp of the dtype for transcendental functions (float32: rtol 1e-5; float64: 1e-12; halves: one
    /// ulp of the storage type, as results are computed in float32 and rounded once), plus an absolute floor of two ulp
    /// of 1 for results near a zero of the function.</summary>
    public static Tol Transcendental(DType d) => d switch
    {
        DType.Float64 => new(1e-12, 4.5e-16, false),
        DType.Float32 => new(1e-5, 2.4e-7, false),
        DType.Float16 => new(2e-3, 1e-3, false),
        DType.BFloat16 => new(1.6e-2, 8e-3, false),
        _ => Exact,
    };

    /// <summary>Sums and products whose summation order differs between the library kernel and the generated loop.</summary>
    public static Tol Reduction(DType d) => d switch
    {
        DType.Float64 => new(1e-12, 1e-11, false),
        DType.Float32 => new(2e-5, 2e-4, false),
        DType.Float16 => new(2e-3, 5e-2, false),
        DType.BFloat16 => new(1.6e-2, 0.5, false),
        _ => Exact,
    };

    public static Tol For(Acc acc, DType d) => acc switch
    {
        Acc.Exact => Exact,
        Acc.IgnoreZeroSign => new(0, 0, false),
        Acc.Approx => Transcendental(d),
        Acc.OneUlp => d == DType.Float16 ? new(Math.Pow(2, -10), Math.Pow(2, -24), false) : new(Math.Pow(2, -7), 1e-37, false),
        _ => Reduction(d),
    };

    public override string ToString() => this == Exact ? "exact" : Rtol == 0 && Atol == 0 ? "exact up to the sign of zero" : $"rtol {Rtol}, atol {Atol}";
}

internal static class JitAssert
{
    /// <summary>A description of the first difference between eager and jitted results, or null when they match.</summary>
    public static string? Difference(Tensor expected, Tensor actual, Tol tol) => Difference(expected, actual, tol, out _);

    public static string? Difference(Tensor expected, Tensor actual, Tol tol, out int first)
    {
        first = -1;
        if (expected.Shape != actual.Shape) return $"shape {actual.Shape} instead of {expected.Shape}";
        if (expected.DType != actual.DType) return $"dtype {actual.DType} instead of {expected.DType}";
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        if (!expected.DType.IsFloating()) tol = Tol.Exact;
        int bad = 0;
        for (int i = 0; i < e.Length; i++)
            if (!Close(e[i], a[i], tol)) { bad++; if (first < 0) first = i; }
        if (bad == 0) return null;
        return $"{bad} of {e.Length} element(s) differ ({tol}); first at flat index {first}: eager {JitData.Lit(e[first])}, jit {JitData.Lit(a[first])}";
    }

    public static bool Close(double e, double a, Tol tol)
    {
        if (double.IsNaN(e) || double.IsNaN(a)) return double.IsNaN(e) && double.IsNaN(a);
        if (e == a) return !tol.ZeroSign || e != 0 || double.IsNegative(e) == double.IsNegative(a);
        if (double.IsInfinity(e) || double.IsInfinity(a)) return false;
        return Math.Abs(e - a) <= tol.Atol + tol.Rtol * Math.Abs(e);
    }

    /// <summary>Throws with the context (program, inputs) when the results differ.</summary>
    public static void Match(Tensor expected, Tensor actual, Tol tol, Func<string> context)
    {
        var d = Difference(expected, actual, tol);
        if (d is not null) throw new Xunit.Sdk.XunitException($"Jit differs from eager: {d}\n{context()}");
    }

    /// <summary>Compares every output; the message names each differing output and, for elementwise outputs, the
    /// input elements at the first differing position.</summary>
    public static void MatchAll(Tensor[] expected, Tensor[] actual, Func<int, Tol> tol, Func<int, string> name, string what, TensorData[] inputs)
    {
        var context = $"{what}\ninputs:\n  {string.Join("\n  ", inputs.Select(x => x.ToString()))}";
        if (expected.Length != actual.Length) throw new Xunit.Sdk.XunitException($"jit returned {actual.Length} outputs, eager {expected.Length}\n{context}");
        var problems = new List<string>();
        for (int i = 0; i < expected.Length; i++)
        {
            var d = Difference(expected[i], actual[i], tol(i), out var at);
            if (d is null) continue;
            var operands = at >= 0 && inputs.All(x => x.Values.Length == expected[i].Size || x.Values.Length == 1)
                ? " (operands there: " + string.Join(", ", inputs.Select(x => JitData.Lit(x.Values[x.Values.Length == 1 ? 0 : at]))) + ")"
                : "";
            problems.Add($"  {name(i)}: {d}{operands}");
        }
        if (problems.Count > 0) throw new Xunit.Sdk.XunitException($"Jit differs from eager in {problems.Count} output(s):\n{string.Join("\n", problems)}\n{context}");
    }
}

/// <summary>How an output is compared: bit for bit; exactly but ignoring the sign of zero (clamp, whose eager kernel
/// and generated code order their comparisons differently); to a few ulp (approximations of transcendental functions);
/// to the rounding of a different summation order (sums, products, dot products); or to one ulp of the result type
/// (a known double rounding).</summary>
internal enum Acc { Exact, IgnoreZeroSign, Approx, Reduction, OneUlp }

/// <summary>An elementwise primitive to check: its name, how to apply it (through Lax, so the primitive itself is
/// bound), and how its float results are compared.</summary>
internal sealed record OpSpec(string Name, int Arity, Func<Tensor[], Tensor> Apply, Acc Acc = Acc.Exact)
{
    public override string ToString() => Name;
}

/// <summary>A bundle of operations checked together. Outputs are compiled in groups of a few kernels per program
/// (Roslyn's compile time grows faster than linearly with the size of one program), each group compiling once per
/// signature.</summary>
internal sealed class Bundle
{
    private const int GroupSize = 8;
    private readonly Func<Tensor[], Tensor>[] _fs;
    private readonly List<(int Start, Func<Tensor[], Tensor[]> Jit)> _groups = [];
    public IReadOnlyList<(string Name, Acc Acc)> Outputs { get; }

    public Bundle(IReadOnlyList<(string Name, Acc Acc, Func<Tensor[], Tensor> F)> outputs)
    {
        Outputs = outputs.Select(o => (o.Name, o.Acc)).ToList();
        _fs = outputs.Select(o => o.F).ToArray();
        for (int start = 0; start < _fs.Length; start += GroupSize)
        {
            var group = _fs.Skip(start).Take(GroupSize).ToArray();
            _groups.Add((start, Transforms.Jit<Tensor[], Tensor[]>(xs => group.Select(f => f(xs)).ToArray())));
        }
    }

    public int GroupCount => _groups.Count;

    /// <summary>Runs both and compares every output (exact, or a few ulp for approximations).</summary>
    public void Check(TensorData[] inputs, string what) => Check(inputs, what, Enumerable.Range(0, _groups.Count));

    /// <summary>Checks the outputs of one group (one compiled program) only.</summary>
    public void CheckGroup(int group, TensorData[] inputs, string what) => Check(inputs, what, [group % _groups.Count]);

    private void Check(TensorData[] inputs, string what, IEnumerable<int> groups)
    {
        var xs = inputs.Select(i => i.ToTensor()).ToArray();
        var expected = new List<Tensor>();
        var actual = new List<Tensor>();
        var names = new List<(string Name, Acc Acc)>();
        foreach (var g in groups)
        {
            var (start, jit) = _groups[g];
            actual.AddRange(jit(xs));
            for (int i = start; i < Math.Min(_fs.Length, start + GroupSize); i++)
            {
                expected.Add(_fs[i](xs));
                names.Add(Outputs[i]);
            }
        }
        JitAssert.MatchAll(expected.ToArray(), actual.ToArray(), i => Tol.For(names[i].Acc, expected[i].DType), i => names[i].Name, what, inputs);
    }
}

/// <summary>Builds a C# text of a program as it is generated (for counterexamples).</summary>
internal sealed class ProgramText
{
    private readonly StringBuilder _sb = new();
    private int _n;
    public string Let(string expr) { var name = $"t{_n++}"; _sb.Append($"  var {name} = {expr};\n"); return name; }
    public override string ToString() => _sb.ToString();
}

/// <summary>A node of a random program: every node knows its shape; <see cref="Eval"/> runs it through Np/Lax (so it
/// traces under Jit, Grad and Vmap), and <see cref="Code"/> prints it as C#.</summary>
internal abstract record PNode(int[] Shape)
{
    public abstract Tensor Eval(Tensor[] inputs);
    public abstract string Code(ProgramText t);
    protected static string S(int[] a) => "[" + string.Join(", ", a) + "]";
}

internal sealed record PInput(int Index, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => inputs[Index];
    public override string Code(ProgramText t) => $"x[{Index}]";
}

/// <summary>A constant captured by the program, of the inputs' dtype: a splat (Np.Full) or a dense array.</summary>
internal sealed record PConst(double[] Values, bool Splat, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs)
    {
        var d = inputs[0].DType;
        return Splat ? Np.Full(new Shape(Shape), Values[0], d) : JitData.Make(d, Shape, Values.Select(v => JitData.Representable(d, v)).ToArray());
    }
    public override string Code(ProgramText t) => Splat
        ? $"Np.Full(new Shape({string.Join(", ", Shape)}), {JitData.Lit(Values[0])}, x[0].DType)"
        : $"Tensor.FromArray(new double[] {{ {string.Join(", ", Values.Select(JitData.Lit))} }}, new Shape({string.Join(", ", Shape)})).AsType(x[0].DType)";
}

internal sealed record PBroadcast(PNode A, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Np.BroadcastTo(A.Eval(inputs), new Shape(Shape));
    public override string Code(ProgramText t) => t.Let($"Np.BroadcastTo({A.Code(t)}, new Shape({string.Join(", ", Shape)}))");
}

internal sealed record PUnary(string Op, PNode A) : PNode(A.Shape)
{
    public static readonly string[] Ops = ["neg", "sin", "cos", "tanh", "logistic", "abs", "square", "sqrt1", "log1", "exp_sin", "relu", "softplus"];
    /// <summary>The ops that read their operand once (for the fusion-structure properties).</summary>
    public static readonly string[] SingleUse = ["neg", "sin", "cos", "tanh", "logistic", "abs", "square", "sqrt1", "exp_sin"];
    public static Tensor Apply(string op, Tensor a) => op switch
    {
        "neg" => -a,
        "sin" => Np.Sin(a),
        "cos" => Np.Cos(a),
        "tanh" => Np.Tanh(a),
        "logistic" => Nn.Sigmoid(a),
        "relu" => Nn.Relu(a),
        "softplus" => Nn.Softplus(a),
        "abs" => Np.Abs(a),
        "square" => Np.Square(a),
        "sqrt1" => Np.Sqrt(Np.Abs(a) + 0.5),
        "log1" => Np.Log(a * a + 1),
        "exp_sin" => Np.Exp(Np.Sin(a)),
        _ => throw new ArgumentException(op),
    };
    public static string Text(string op, string a) => op switch
    {
        "neg" => $"-{a}", "sin" => $"Np.Sin({a})", "cos" => $"Np.Cos({a})", "tanh" => $"Np.Tanh({a})", "logistic" => $"Nn.Sigmoid({a})", "relu" => $"Nn.Relu({a})", "softplus" => $"Nn.Softplus({a})",
        "abs" => $"Np.Abs({a})", "square" => $"Np.Square({a})", "sqrt1" => $"Np.Sqrt(Np.Abs({a}) + 0.5)", "log1" => $"Np.Log({a} * {a} + 1)",
        "exp_sin" => $"Np.Exp(Np.Sin({a}))", _ => op,
    };
    public override Tensor Eval(Tensor[] inputs) => Apply(Op, A.Eval(inputs));
    public override string Code(ProgramText t) => t.Let(Text(Op, A.Code(t)));
}

internal sealed record PBinary(string Op, PNode A, PNode B, int[] Shape) : PNode(Shape)
{
    public static readonly string[] Ops = ["add", "sub", "mul", "max", "min", "div1", "where_gt"];
    public static readonly string[] SingleUse = ["add", "sub", "mul", "max", "min"];
    public static Tensor Apply(string op, Tensor a, Tensor b) => op switch
    {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "max" => Np.Maximum(a, b),
        "min" => Np.Minimum(a, b),
        "div1" => a / (b * b + 1),
        "where_gt" => Np.Where(a > b, a, b * 0.5),
        _ => throw new ArgumentException(op),
    };
    public static string Text(string op, string a, string b) => op switch
    {
        "add" => $"{a} + {b}", "sub" => $"{a} - {b}", "mul" => $"{a} * {b}", "max" => $"Np.Maximum({a}, {b})", "min" => $"Np.Minimum({a}, {b})",
        "div1" => $"{a} / ({b} * {b} + 1)", "where_gt" => $"Np.Where({a} > {b}, {a}, {b} * 0.5)", _ => op,
    };
    public override Tensor Eval(Tensor[] inputs) => Apply(Op, A.Eval(inputs), B.Eval(inputs));
    public override string Code(ProgramText t) { var a = A.Code(t); var b = B.Code(t); return t.Let(Text(Op, a, b)); }
}

internal sealed record PWhere(PNode C, PNode A, PNode B) : PNode(A.Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Np.Where(C.Eval(inputs) > 0, A.Eval(inputs), B.Eval(inputs));
    public override string Code(ProgramText t) { var c = C.Code(t); var a = A.Code(t); var b = B.Code(t); return t.Let($"Np.Where({c} > 0, {a}, {b})"); }
}

/// <summary>A subtree evaluated by its own jitted function (a nested pjit under an outer Jit, Grad or Vmap).</summary>
internal sealed record PJit(PNode A) : PNode(A.Shape)
{
    private readonly Func<Tensor[], Tensor> _f = Transforms.Jit<Tensor[], Tensor>(A.Eval);
    public override Tensor Eval(Tensor[] inputs) => _f(inputs);
    public override string Code(ProgramText t)
    {
        var inner = new ProgramText();
        var r = A.Code(inner);
        return t.Let($"Jit((Tensor[] x) =>\n  {{\n  {inner.ToString().Replace("\n", "\n  ").TrimEnd()}\n    return {r};\n  }})(x)");
    }
}

internal sealed record PReduce(string Kind, int[] Axes, bool KeepDims, PNode A, int[] Shape) : PNode(Shape)
{
    public static readonly string[] Kinds = ["sum", "max", "min", "mean"];
    public override Tensor Eval(Tensor[] inputs)
    {
        var a = A.Eval(inputs);
        return Kind switch
        {
            "sum" => Np.Sum(a, Axes, KeepDims),
            "max" => Np.Max(a, Axes, KeepDims),
            "min" => Np.Min(a, Axes, KeepDims),
            _ => Np.Mean(a, Axes, KeepDims),
        };
    }
    public override string Code(ProgramText t) =>
        t.Let($"Np.{char.ToUpperInvariant(Kind[0])}{Kind[1..]}({A.Code(t)}, {S(Axes)}, keepDims: {(KeepDims ? "true" : "false")})");
}

internal sealed record PReshape(PNode A, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Lax.Reshape(A.Eval(inputs), new Shape(Shape));
    public override string Code(ProgramText t) => t.Let($"Lax.Reshape({A.Code(t)}, new Shape({string.Join(", ", Shape)}))");
}

internal sealed record PTranspose(PNode A, int[] Perm, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Lax.Transpose(A.Eval(inputs), Perm);
    public override string Code(ProgramText t) => t.Let($"Lax.Transpose({A.Code(t)}, {S(Perm)})");
}

internal sealed record PSlice(PNode A, int[] Start, int[] Limit, int[] Strides, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Lax.Slice(A.Eval(inputs), Start, Limit, Strides.All(s => s == 1) ? null : Strides);
    public override string Code(ProgramText t) => t.Let($"Lax.Slice({A.Code(t)}, {S(Start)}, {S(Limit)}, {S(Strides)})");
}

internal sealed record PRev(PNode A, int[] Dims) : PNode(A.Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Lax.Rev(A.Eval(inputs), Dims);
    public override string Code(ProgramText t) => t.Let($"Lax.Rev({A.Code(t)}, {S(Dims)})");
}

internal sealed record PMatmul(PNode A, PNode B, int[] Shape) : PNode(Shape)
{
    public override Tensor Eval(Tensor[] inputs) => Np.Matmul(A.Eval(inputs), B.Eval(inputs));
    public override string Code(ProgramText t) { var a = A.Code(t); var b = B.Code(t); return t.Let($"Np.Matmul({a}, {b})"); }
}

/// <summary>A random program over float inputs: a tree of elementwise ops (with NumPy broadcasting), reductions (with
/// and without keepDims), reshapes, transposes, strided slices, reverses and matmuls, generated from the output shape
/// down so that every node is well shaped.</summary>
internal sealed class RandomProgram
{
    public PNode Root { get; }
    public List<int[]> InputShapes { get; } = [];
    public int Seed { get; }
    private readonly System.Random _r;
    private readonly bool _elementwiseOnly;
    private bool _insideJit;

    private RandomProgram(int seed, int[] outShape, int depth, bool elementwiseOnly)
    {
        Seed = seed;
        _r = new System.Random(seed);
        _elementwiseOnly = elementwiseOnly;
        Root = Gen(outShape, depth);
    }

    public static readonly int[][] OutShapes = [[], [3], [4], [2, 3], [3, 1], [2, 3, 4], [5, 6], [17]];

    public static RandomProgram Create(int seed, int depth = 4)
    {
        var r = new System.Random(seed ^ 0x5bd1e995);
        return new RandomProgram(seed, OutShapes[r.Next(OutShapes.Length)], depth, false);
    }

    /// <summary>Elementwise-only trees over inputs of one shape (no broadcasting, no shape ops).</summary>
    public static RandomProgram Elementwise(int seed, int[] shape, int depth) => new(seed, shape, depth, true);

    public Tensor Eval(Tensor[] inputs) => Root.Eval(inputs);

    public Tensor[] Inputs(DType dtype, int seed, int? batch = null)
    {
        var r = new System.Random(seed);
        return InputShapes.Select(s =>
        {
            var shape = batch is int b ? [b, .. s] : s;
            var v = new double[JitShapes.Size(shape)];
            // Full-precision values: exact ties (where rounding order would pick a different max or branch) do not happen.
            for (int i = 0; i < v.Length; i++) v[i] = JitData.Representable(dtype, dtype.IsFloating() ? r.NextDouble() * 4 - 2 : Math.Round(r.NextDouble() * 10 - 5));
            return JitData.Make(dtype, shape, v);
        }).ToArray();
    }

    public override string ToString()
    {
        var t = new ProgramText();
        var root = Root.Code(t);
        return $"// seed {Seed}; inputs {string.Join(", ", InputShapes.Select(JitShapes.Str))}\n(Tensor[] x) =>\n{{\n{t}  return {root};\n}}";
    }

    private PNode Leaf(int[] shape)
    {
        // Reuse an input of the same shape half the time.
        var same = InputShapes.Select((s, i) => (s, i)).Where(p => p.s.SequenceEqual(shape)).ToList();
        if (same.Count > 0 && _r.Next(2) == 0) return new PInput(same[_r.Next(same.Count)].i, shape);
        if (!_elementwiseOnly && InputShapes.Count > 0 && _r.Next(6) == 0)
        {
            // A captured constant: a splat (Np.Full) or a dense array.
            if (_r.Next(2) == 0) return new PConst([Math.Round(_r.NextDouble() * 4 - 2, 2)], true, shape);
            return new PConst(Enumerable.Range(0, JitShapes.Size(shape)).Select(_ => _r.NextDouble() * 4 - 2).ToArray(), false, shape);
        }
        InputShapes.Add(shape);
        return new PInput(InputShapes.Count - 1, shape);
    }

    private int[] BroadcastPartner(int[] shape)
    {
        if (_r.Next(2) == 0 || shape.Length == 0) return shape;
        int drop = _r.Next(shape.Length + 1);
        return shape.Skip(drop).Select(d => _r.Next(3) == 0 ? 1 : d).ToArray();
    }

    private PNode Gen(int[] shape, int depth)
    {
        if (depth <= 0 || (_r.Next(6) == 0 && InputShapes.Count > 0)) return Leaf(shape);
        if (_elementwiseOnly)
        {
            // Ops that read each operand once, so that every intermediate of the tree is used once.
            return _r.Next(5) switch
            {
                0 or 1 => new PUnary(PUnary.SingleUse[_r.Next(PUnary.SingleUse.Length)], Gen(shape, depth - 1)),
                2 => new PWhere(Gen(shape, depth - 1), Gen(shape, depth - 1), Gen(shape, depth - 1)),
                _ => new PBinary(PBinary.SingleUse[_r.Next(PBinary.SingleUse.Length)], Gen(shape, depth - 1), Gen(shape, depth - 1), shape),
            };
        }
        int choice = _r.Next(13);
        switch (choice)
        {
            case 0:
                return new PUnary(PUnary.Ops[_r.Next(PUnary.Ops.Length)], Gen(shape, depth - 1));
            case 1:
            case 2:
            {
                var op = PBinary.Ops[_r.Next(PBinary.Ops.Length)];
                var other = BroadcastPartner(shape);
                var a = Gen(shape, depth - 1);
                var b = Gen(other, depth - 1);
                return _r.Next(2) == 0 ? new PBinary(op, a, b, shape) : new PBinary(op, b, a, shape);
            }
            case 3:
            case 4:
            {
                var kind = PReduce.Kinds[_r.Next(PReduce.Kinds.Length)];
                var ones = Enumerable.Range(0, shape.Length).Where(i => shape[i] == 1).ToList();
                if (ones.Count > 0 && _r.Next(2) == 0)
                {
                    // keepDims: the reduced axes are size-1 dims of the result.
                    var axes = ones.Where(_ => _r.Next(2) == 0).DefaultIfEmpty(ones[0]).ToArray();
                    var inner = shape.Select((d, i) => axes.Contains(i) ? 1 + _r.Next(5) : d).ToArray();
                    return new PReduce(kind, axes, true, Gen(inner, depth - 1), shape);
                }
                int n = 1 + _r.Next(Math.Min(2, 4 - shape.Length) + 1);
                if (shape.Length + n > 4) n = Math.Max(0, 4 - shape.Length);
                if (n == 0) return new PUnary("sin", Gen(shape, depth - 1));
                var full = shape.ToList();
                var positions = new List<int>();
                for (int k = 0; k < n; k++)
                {
                    int pos = _r.Next(full.Count + 1);
                    full.Insert(pos, 1 + _r.Next(5));
                    for (int j = 0; j < positions.Count; j++) if (positions[j] >= pos) positions[j]++;
                    positions.Add(pos);
                }
                return new PReduce(kind, positions.OrderBy(p => p).ToArray(), false, Gen(full.ToArray(), depth - 1), shape);
            }
            case 5:
            case 6:
            {
                var inner = Refactor(shape);
                return new PReshape(Gen(inner, depth - 1), shape);
            }
            case 7:
            case 8:
            {
                if (shape.Length < 2) return new PRev(Gen(shape, depth - 1), shape.Length == 1 ? [0] : []);
                var perm = Enumerable.Range(0, shape.Length).OrderBy(_ => _r.Next()).ToArray();
                var inner = new int[shape.Length];
                for (int i = 0; i < perm.Length; i++) inner[perm[i]] = shape[i];
                return new PTranspose(Gen(inner, depth - 1), perm, shape);
            }
            case 9:
            case 10:
            {
                if (shape.Length == 0) return new PUnary("tanh", Gen(shape, depth - 1));
                var start = shape.Select(_ => _r.Next(3)).ToArray();
                var strides = shape.Select(_ => 1 + _r.Next(2)).ToArray();
                var inner = shape.Select((d, i) => start[i] + (d - 1) * strides[i] + 1 + _r.Next(2)).ToArray();
                var limit = shape.Select((d, i) => start[i] + (d - 1) * strides[i] + 1).ToArray();
                return new PSlice(Gen(inner, depth - 1), start, limit, strides, shape);
            }
            case 11:
            {
                if (_r.Next(2) == 0 && !_insideJit)
                {
                    // Known bug (see NestedJitTwoLevelsDeep): a pjit nested in a pjit nested in the outer Jit fails to
                    // inline, so nested jitted subtrees contain no further jitted subtree.
                    _insideJit = true;
                    var inner = Gen(shape, depth - 1);
                    _insideJit = false;
                    return new PJit(inner);
                }
                var dims = Enumerable.Range(0, shape.Length).Where(_ => _r.Next(2) == 0).ToArray();
                return new PRev(Gen(shape, depth - 1), dims);
            }
            default:
            {
                int k = 1 + _r.Next(5);
                return shape.Length switch
                {
                    0 => new PMatmul(Gen([k], depth - 1), Gen([k], depth - 1), shape),
                    1 => new PMatmul(Gen([k], depth - 1), Gen([k, shape[0]], depth - 1), shape),
                    2 => new PMatmul(Gen([shape[0], k], depth - 1), Gen([k, shape[1]], depth - 1), shape),
                    _ => new PMatmul(Gen([.. shape[..^1], k], depth - 1), Gen([.. shape[..^2], k, shape[^1]], depth - 1), shape),
                };
            }
        }
    }

    /// <summary>Another shape of the same size (split and merge dims, insert 1s).</summary>
    private int[] Refactor(int[] shape)
    {
        int size = JitShapes.Size(shape);
        var factors = new List<int>();
        int n = size;
        for (int p = 2; n > 1; p++) while (n % p == 0) { factors.Add(p); n /= p; }
        factors = factors.OrderBy(_ => _r.Next()).ToList();
        int rank = 1 + _r.Next(3);
        var dims = Enumerable.Repeat(1, rank).ToArray();
        foreach (var f in factors) dims[_r.Next(rank)] *= f;
        if (size == 1 && _r.Next(2) == 0) return [];
        return dims;
    }
}

/// <summary>A random chain of shape operations (broadcast_in_dim, reshape, transpose, squeeze, expand_dims, rev, strided
/// slice, pad with negative and interior padding, concatenate), with elementwise ops and reductions in between so that
/// the views are read by fused kernels.</summary>
internal sealed class ShapeChain
{
    public int[] InputShape { get; }
    public int Seed { get; }
    private readonly List<(string Text, Func<Tensor, Tensor> F)> _steps = [];

    public static readonly int[][] Starts = [.. JitShapes.Standard, [2, 3, 1, 4], [1, 5, 1]];

    public ShapeChain(int seed, int[] input, int length, DType dtype)
    {
        Seed = seed;
        InputShape = input;
        var r = new System.Random(seed);
        var shape = input;
        for (int i = 0; i < length; i++)
        {
            var step = Next(r, shape, dtype == DType.Bool);
            if (step is null) continue;
            _steps.Add((step.Value.Text, step.Value.F));
            shape = step.Value.Shape;
        }
    }

    public Tensor Eval(Tensor x) => _steps.Aggregate(x, (t, s) => s.F(t));

    public override string ToString() =>
        $"// seed {Seed}\n(Tensor x) => x{string.Concat(_steps.Select(s => "\n    ." + s.Text))}";

    private static string S(IEnumerable<int> a) => "[" + string.Join(", ", a) + "]";

    private static (string Text, Func<Tensor, Tensor> F, int[] Shape)? Next(System.Random r, int[] shape, bool isBool)
    {
        int rank = shape.Length;
        int size = JitShapes.Size(shape);
        switch (r.Next(11))
        {
            case 0:
            {
                if (rank >= 5 || size > 400) return null;
                var outShape = new List<int>();
                var bdims = new List<int>();
                foreach (var d in shape)
                {
                    while (r.Next(4) == 0 && outShape.Count < 5) outShape.Add(1 + r.Next(3));
                    bdims.Add(outShape.Count);
                    outShape.Add(d == 1 && r.Next(2) == 0 ? 1 + r.Next(3) : d);
                }
                if (r.Next(3) == 0) outShape.Add(1 + r.Next(3));
                if (outShape.Count > Shape.MaxRank) return null; // the inserted dims can add up past Jx's maximum rank
                var os = outShape.ToArray();
                var bd = bdims.ToArray();
                return ($"BroadcastInDim({S(os)}, {S(bd)})", x => Lax.BroadcastInDim(x, new Shape(os), bd), os);
            }
            case 1:
            {
                var factors = new List<int>();
                int n = size;
                for (int p = 2; n > 1; p++) while (n % p == 0) { factors.Add(p); n /= p; }
                int newRank = 1 + r.Next(4);
                var dims = Enumerable.Repeat(1, newRank).ToArray();
                foreach (var f in factors) dims[r.Next(newRank)] *= f;
                return ($"Reshape({S(dims)})", x => Lax.Reshape(x, new Shape(dims)), dims);
            }
            case 2:
            {
                if (rank < 2) return null;
                var perm = Enumerable.Range(0, rank).OrderBy(_ => r.Next()).ToArray();
                return ($"Transpose({S(perm)})", x => Lax.Transpose(x, perm), perm.Select(p => shape[p]).ToArray());
            }
            case 3:
            {
                var ones = Enumerable.Range(0, rank).Where(i => shape[i] == 1 && r.Next(3) != 0).ToArray();
                if (ones.Length == 0) return null;
                return ($"Squeeze({S(ones)})", x => Lax.Squeeze(x, ones), shape.Where((_, i) => !ones.Contains(i)).ToArray());
            }
            case 4:
            {
                if (rank >= 5) return null;
                int pos = r.Next(rank + 1);
                var os = shape.Take(pos).Append(1).Concat(shape.Skip(pos)).ToArray();
                return ($"ExpandDims([{pos}])", x => Lax.ExpandDims(x, [pos]), os);
            }
            case 5:
            {
                var dims = Enumerable.Range(0, rank).Where(_ => r.Next(2) == 0).ToArray();
                return ($"Rev({S(dims)})", x => Lax.Rev(x, dims), shape);
            }
            case 6:
            {
                if (rank == 0) return null;
                var start = shape.Select(d => r.Next(d)).ToArray();
                var limit = shape.Select((d, i) => start[i] + 1 + r.Next(d - start[i])).ToArray();
                var strides = shape.Select(_ => 1 + r.Next(3)).ToArray();
                var os = shape.Select((_, i) => (limit[i] - start[i] + strides[i] - 1) / strides[i]).ToArray();
                return ($"Slice({S(start)}, {S(limit)}, {S(strides)})", x => Lax.Slice(x, start, limit, strides), os);
            }
            case 7:
            {
                if (size > 300) return null;
                var cfg = shape.Select(d =>
                {
                    int lo = r.Next(4) - 1, hi = r.Next(4) - 1, interior = r.Next(3);
                    if (lo + hi + d + Math.Max(0, d - 1) * interior < 1) lo = hi = 0;
                    return (lo, hi, interior);
                }).ToArray();
                var os = shape.Select((d, i) => cfg[i].lo + cfg[i].hi + d + Math.Max(0, d - 1) * cfg[i].interior).ToArray();
                int pv = r.Next(100) - 50;
                return ($"Pad({pv}, {string.Join(", ", cfg.Select(c => $"({c.lo}, {c.hi}, {c.interior})"))})",
                    x => Lax.Pad(x, Lax.ConvertElementType(Tensor.Scalar(pv), x.DType), cfg), os);
            }
            case 8:
            {
                if (rank == 0 || size > 400) return null;
                int axis = r.Next(rank);
                var os = shape.Select((d, i) => i == axis ? 2 * d : d).ToArray();
                return ($"Concatenate([x, Rev(x, [{axis}])], {axis})", x => Lax.Concatenate([x, Lax.Rev(x, [axis])], axis), os);
            }
            case 9:
                if (isBool) return ("Not()", x => Lax.Not(x), shape);
                return r.Next(2) == 0 ? ("Neg()", x => Lax.Neg(x), shape) : ("Add(x, x)", x => Lax.Add(x, x), shape);
            default:
            {
                if (rank == 0) return null;
                int axis = r.Next(rank);
                return ($"ReduceMax([{axis}])", x => Lax.ReduceMax(x, [axis]), shape.Where((_, i) => i != axis).ToArray());
            }
        }
    }
}
