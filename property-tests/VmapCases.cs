using System.Text;
using FsCheck;
using FsCheck.Fluent;
using static Jx.Transforms;

namespace Jx.PropertyTests;

// The machinery of the Vmap properties (VmapProperties.cs): a case is decoded from a small array of integers (a
// "genome") that FsCheck generates and shrinks, so every shrunk array is again a valid, usually simpler, case; tensors
// are filled from a System.Random seeded by one of those integers. A failing case throws VmapCaseFailure whose message
// prints the genome (to replay it with VmapRun.Replay), the decoded case, the argument values and the mismatch.

/// <summary>The integers a random Vmap case is decoded from.</summary>
public sealed record VmapGenome(int[] Genes)
{
    /// <summary>The genes as C# source, so a failing case can be pasted into <see cref="VmapRun.Replay"/>.</summary>
    public override string ToString() => "[" + string.Join(", ", Genes) + "]";
}

/// <summary>A failed Vmap property case: the message has the genome, the decoded case and the mismatch.</summary>
public sealed class VmapCaseFailure(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Reads decisions off a genome; genes past the end read as 0, so every prefix of a genome is valid (and a loop
/// that continues while the decoder says so must be bounded: a run of zeros never ends it).</summary>
internal sealed class VmapDecoder(int[] genes)
{
    private int _pos;
    public int[] Genes { get; } = genes;

    /// <summary>A number in [0, n).</summary>
    public int Int(int n)
    {
        int g = _pos < Genes.Length ? Genes[_pos] : 0;
        _pos++;
        return n <= 1 ? 0 : ((g % n) + n) % n;
    }

    /// <summary>A number in [lo, hi].</summary>
    public int Range(int lo, int hi) => lo + Int(hi - lo + 1);
    public bool Bool() => Int(2) == 1;
    /// <summary>True with probability about 1/n (0 is the shrunk value, so shrinking makes it true).</summary>
    public bool OneIn(int n) => Int(n) == 0;
    public T Pick<T>(IReadOnlyList<T> xs) => xs[Int(xs.Count)];
    /// <summary>A seed for the tensor data.</summary>
    public int Seed() => Int(1 << 20);
}

/// <summary>Fills a tensor of the given shape with random data of one kind.</summary>
internal delegate Tensor VmapData(System.Random rng, Shape shape);

/// <summary>The kinds of data the cases use.</summary>
internal static class VmapFill
{
    private static double[] Doubles(System.Random r, int n, Func<System.Random, double> f) => Enumerable.Range(0, n).Select(_ => f(r)).ToArray();

    /// <summary>float64 uniform in [lo, hi).</summary>
    public static VmapData Real(double lo = -2, double hi = 2) => (r, s) => Tensor.FromArray(Doubles(r, s.Size, q => lo + (hi - lo) * q.NextDouble()), s);
    /// <summary>float64 with |x| in [lo, hi) and a random sign (safe denominators).</summary>
    public static VmapData NonZero(double lo = 0.5, double hi = 2) =>
        (r, s) => Tensor.FromArray(Doubles(r, s.Size, q => (q.Next(2) == 0 ? -1 : 1) * (lo + (hi - lo) * q.NextDouble())), s);
    /// <summary>float64 holding integers in [lo, hi] (exact arithmetic, ties for sorting and argmax).</summary>
    public static VmapData IntF64(int lo = -3, int hi = 3) => (r, s) => Tensor.FromArray(Doubles(r, s.Size, q => q.Next(lo, hi + 1)), s);
    public static VmapData F32(double lo = -2, double hi = 2) =>
        (r, s) => Tensor.FromArray(Enumerable.Range(0, s.Size).Select(_ => (float)(lo + (hi - lo) * r.NextDouble())).ToArray(), s);
    public static VmapData I32(int lo = -5, int hi = 5) => (r, s) => Tensor.FromArray(Enumerable.Range(0, s.Size).Select(_ => r.Next(lo, hi + 1)).ToArray(), s);
    public static VmapData NonZeroI32(int lo = 1, int hi = 5) =>
        (r, s) => Tensor.FromArray(Enumerable.Range(0, s.Size).Select(_ => (r.Next(2) == 0 ? -1 : 1) * r.Next(lo, hi + 1)).ToArray(), s);
    public static VmapData U32() => (r, s) => Tensor.FromArray(Enumerable.Range(0, s.Size).Select(_ => (uint)r.NextInt64(0, 1L << 32)).ToArray(), s);
    public static VmapData Bool() => (r, s) => Tensor.FromArray(Enumerable.Range(0, s.Size).Select(_ => r.Next(2) == 1).ToArray(), s);

    /// <summary>int32 indices into a dimension of size n, all addressing different elements (some written as the
    /// negative alias i - n); the shape's size must be at most n.</summary>
    public static VmapData DistinctIndices(int n) => (r, s) =>
    {
        var perm = Enumerable.Range(0, n).OrderBy(_ => r.Next()).Take(s.Size).Select(i => r.Next(3) == 0 ? i - n : i).ToArray();
        return Tensor.FromArray(perm, s);
    };

    /// <summary>float64 with special values mixed in: NaN, ±inf, -0.0, 0 and small integers.</summary>
    public static VmapData Special() =>
        (r, s) => Tensor.FromArray(Doubles(r, s.Size, q => q.Next(8) switch { 0 => double.NaN, 1 => double.PositiveInfinity, 2 => double.NegativeInfinity, 3 => -0.0, _ => q.Next(-2, 3) }), s);

    /// <summary>The data of a dtype in a small range (exact values).</summary>
    public static VmapData Of(DType d) => d switch
    {
        DType.Float64 => IntF64(),
        DType.Float32 => (r, s) => IntF64()(r, s).AsType(DType.Float32),
        DType.Int32 => I32(),
        DType.Int64 => (r, s) => I32()(r, s).AsType(DType.Int64),
        DType.UInt32 => (r, s) => I32(0, 9)(r, s).AsType(DType.UInt32),
        DType.Bool => Bool(),
        DType.Float16 or DType.BFloat16 => (r, s) => IntF64()(r, s).AsType(d),
        _ => throw new ArgumentException(d.ToString()),
    };
}

/// <summary>One argument of a case: its per-example shape and data, and an optional note on its role (indices, key).</summary>
internal sealed record VmapArg(Shape Shape, VmapData Data, string Kind = "");

/// <summary>A case: a per-example function of some tensors returning some tensors, compared exactly or to a relative
/// tolerance.</summary>
internal sealed record VmapOp(string Name, VmapArg[] Args, Func<Tensor[], Tensor[]> F, bool Exact = false, double Tol = VmapRun.Tol);

/// <summary>One level of (possibly nested) Vmap: its size, per-argument in_axes (as passed: maybe negative, or null),
/// the normalized axes, out_axes and axis name.</summary>
internal sealed class VmapLevel
{
    public int Size;
    public int?[] InAxes = [];
    public int?[] Norm = [];
    public int OutGene;
    public bool OutNegative;
    public int OutAxes;
    public string? Name;
    public bool PassSize => InAxes.All(a => a is null);

    public override string ToString() =>
        $"size {Size}, inAxes [{string.Join(", ", InAxes.Select(a => a?.ToString() ?? "null"))}], outAxes {OutAxes}" +
        (Name is null ? "" : $", axisName \"{Name}\"") + (PassSize ? $", axisSize {Size}" : "");
}

/// <summary>Builds and checks cases: the data, the Vmap call, the reference loop, the comparison.</summary>
internal static class VmapRun
{
    public const double Tol = 1e-12;

    /// <summary>Multiplies every property's number of cases (environment variable JX_VMAP_PROPS_SCALE, default 1) for a
    /// deeper search than the default, which keeps the suite fast.</summary>
    public static readonly double Scale = double.TryParse(Environment.GetEnvironmentVariable("JX_VMAP_PROPS_SCALE"),
        System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 1;

    /// <summary>Runs <paramref name="body"/> on <paramref name="maxTest"/> random genomes with FsCheck; a failure is shrunk
    /// and reported with its genome and decoded case.</summary>
    public static void ForAll(int maxTest, Action<VmapDecoder> body, int genes = 48)
    {
        int budget = 4000; // shrink candidates per property run, so that a failure is reported in bounded time
        var arb = Arb.From(Gen.Choose(0, 999).ArrayOf(genes).Select(g => new VmapGenome(g)), g => Shrink(g).TakeWhile(_ => budget-- > 0));
        Prop.ForAll(arb, g => body(new VmapDecoder(g.Genes))).Check(Config.QuickThrowOnFailure.WithMaxTest(Math.Max(1, (int)(maxTest * Scale))));
    }

    /// <summary>Runs one case again from its genome (as printed by a failure).</summary>
    public static void Replay(int[] genes, Action<VmapDecoder> body) => body(new VmapDecoder(genes));

    private static IEnumerable<VmapGenome> Shrink(VmapGenome g)
    {
        var a = g.Genes;
        // Zero a suffix, then each gene: to 0, to half, to one less.
        for (int n = 0; n < a.Length; n += Math.Max(1, a.Length / 4))
            if (a.Skip(n).Any(x => x != 0)) yield return new VmapGenome([.. a.Take(n), .. new int[a.Length - n]]);
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] == 0) continue;
            yield return With(a, i, 0);
            if (a[i] > 2) yield return With(a, i, a[i] / 2);
            if (a[i] > 1) yield return With(a, i, a[i] - 1);
        }
    }

    private static VmapGenome With(int[] a, int i, int v) { var b = (int[])a.Clone(); b[i] = v; return new VmapGenome(b); }

    // ---------------- tensors ----------------

    /// <summary>x[..., i, ...] along <paramref name="axis"/>, computed eagerly.</summary>
    public static Tensor SliceAt(Tensor x, int axis, int i) => Lax.Squeeze(Lax.SliceInDim(x, i, i + 1, 1, axis), [axis]);

    /// <summary>The items stacked along a new axis (eagerly).</summary>
    public static Tensor Stack(IEnumerable<Tensor> items, int axis) => Np.Stack(items.ToArray(), axis);

    public static string Show(Tensor t) => t.Size <= 48 ? $"{t.DType.ShortName()}{t.Shape} {Flat(t)}" : $"{t.DType.ShortName()}{t.Shape} (large)";

    private static string Flat(Tensor t) => "[" + string.Join(", ", t.ToDoubleArray().Select(v => v.ToString("R"))) + "]";

    /// <summary>Null when equal; otherwise what differs.</summary>
    public static string? Diff(Tensor expected, Tensor actual, bool exact, double tol = Tol)
    {
        if (expected.Shape != actual.Shape) return $"shape: expected {expected.Shape}, got {actual.Shape}";
        if (expected.DType != actual.DType) return $"dtype: expected {expected.DType.Name()}, got {actual.DType.Name()}";
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        double scale = 1 + e.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < e.Length; i++)
        {
            bool ok = e[i].Equals(a[i]) || (!exact && Math.Abs(e[i] - a[i]) <= tol * Math.Max(scale, Math.Abs(e[i])));
            if (!ok)
                return $"element {i} (flat): expected {e[i]:R}, got {a[i]:R}\n    expected {Show(expected)}\n    actual   {Show(actual)}";
        }
        return null;
    }

    // ---------------- calling Vmap ----------------

    /// <summary>Vmap of a function of n tensors (1 to 4) returning a list of tensors.</summary>
    public static Func<Tensor[], Tensor[]> Vmapped(Func<Tensor[], Tensor[]> f, int n, int?[] inAxes, int outAxes, string? axisName, int? axisSize) => n switch
    {
        1 => xs => Vmap<Tensor, Tensor[]>(a => f([a]), inAxes[0], outAxes, axisName, axisSize)(xs[0]),
        2 => xs => Vmap<Tensor, Tensor, Tensor[]>((a, b) => f([a, b]), inAxes, outAxes, axisName, axisSize)(xs[0], xs[1]),
        3 => xs => Vmap<Tensor, Tensor, Tensor, Tensor[]>((a, b, c) => f([a, b, c]), inAxes, outAxes, axisName, axisSize)(xs[0], xs[1], xs[2]),
        4 => xs => Vmap<Tensor, Tensor, Tensor, Tensor, Tensor[]>((a, b, c, d) => f([a, b, c, d]), inAxes, outAxes, axisName, axisSize)(xs[0], xs[1], xs[2], xs[3]),
        _ => throw new ArgumentException($"{n} arguments"),
    };

    /// <summary>Nested Vmaps, level 0 outermost.</summary>
    public static Func<Tensor[], Tensor[]> Nested(Func<Tensor[], Tensor[]> f, int n, VmapLevel[] levels)
    {
        var g = f;
        for (int l = levels.Length - 1; l >= 0; l--)
        {
            var L = levels[l];
            g = Vmapped(g, n, L.InAxes, L.OutAxes, L.Name, L.PassSize ? L.Size : null);
        }
        return g;
    }

    // ---------------- levels and data ----------------

    /// <summary>Decodes <paramref name="depth"/> levels of batching for arguments of the given per-example ranks: sizes
    /// 1-4, each argument batched (at a random, sometimes negative, axis) or not, and the out_axes genes.</summary>
    public static VmapLevel[] Levels(VmapDecoder c, int[] ranks, int depth = 1, int maxSize = 4, int nullOneIn = 5, string?[]? names = null)
    {
        var levels = new VmapLevel[depth];
        var cur = (int[])ranks.Clone();
        for (int l = depth - 1; l >= 0; l--) // innermost first: its axes index the per-example ranks
        {
            var L = new VmapLevel { Size = c.Range(1, maxSize), InAxes = new int?[ranks.Length], Norm = new int?[ranks.Length], Name = names?[l] };
            for (int k = 0; k < ranks.Length; k++)
            {
                if (c.OneIn(nullOneIn)) continue;
                int ax = c.Int(cur[k] + 1);
                L.Norm[k] = ax;
                L.InAxes[k] = c.Bool() ? ax - (cur[k] + 1) : ax;
                cur[k]++;
            }
            L.OutGene = c.Int(1000);
            L.OutNegative = c.Bool();
            levels[l] = L;
        }
        return levels;
    }

    /// <summary>Sets out_axes from the genes once the per-example output ranks are known (the smallest one bounds it).</summary>
    public static void ResolveOut(VmapLevel[] levels, int minOutRank)
    {
        for (int l = 0; l < levels.Length; l++)
        {
            int r = minOutRank + (levels.Length - 1 - l); // rank of the output inside this level's Vmap
            int ax = levels[l].OutGene % (r + 1);
            levels[l].OutAxes = levels[l].OutNegative ? ax - (r + 1) : ax;
        }
    }

    /// <summary>Argument data batched as the levels say: each batched level stacks independent draws at its axis.</summary>
    public static Tensor[] MakeArgs(VmapArg[] args, VmapLevel[] levels, System.Random rng)
    {
        Tensor Make(int k, int l)
        {
            if (l == levels.Length) return args[k].Data(rng, args[k].Shape);
            if (levels[l].Norm[k] is not int ax) return Make(k, l + 1);
            return Stack(Enumerable.Range(0, levels[l].Size).Select(_ => Make(k, l + 1)).ToList(), ax);
        }
        return args.Select((_, k) => Make(k, 0)).ToArray();
    }

    /// <summary>The arguments of member <paramref name="b"/> of level <paramref name="L"/>.</summary>
    public static Tensor[] Member(Tensor[] xs, VmapLevel L, int b) => xs.Select((x, k) => L.Norm[k] is int ax ? SliceAt(x, ax, b) : x).ToArray();

    /// <summary>The reference: loops over every level, calls <paramref name="f"/> with the member's arguments and its
    /// index at each level, and stacks the results at each level's out_axes.</summary>
    public static Tensor[] Loop(Func<Tensor[], int[], Tensor[]> f, Tensor[] xs, VmapLevel[] levels, int l = 0, int[]? index = null)
    {
        index ??= [];
        if (l == levels.Length) return f(xs, index);
        var L = levels[l];
        var per = Enumerable.Range(0, L.Size).Select(b => Loop(f, Member(xs, L, b), levels, l + 1, [.. index, b])).ToList();
        return Enumerable.Range(0, per[0].Length).Select(j =>
        {
            int rank = per[0][j].Rank + 1;
            int oa = L.OutAxes < 0 ? L.OutAxes + rank : L.OutAxes;
            return Stack(per.Select(p => p[j]), oa);
        }).ToArray();
    }

    /// <summary>The arguments of the first member at every level (to learn the output ranks).</summary>
    public static Tensor[] FirstMember(Tensor[] xs, VmapLevel[] levels)
    {
        foreach (var L in levels) xs = Member(xs, L, 0);
        return xs;
    }

    public static string Describe(string name, VmapLevel[] levels, Tensor[] xs, int seed, int[] genes, VmapArg[]? args = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"genome {new VmapGenome(genes)}");
        sb.AppendLine($"case: {name}");
        for (int l = 0; l < levels.Length; l++) sb.AppendLine($"  vmap level {l} ({(l == 0 ? "outermost" : "inner")}): {levels[l]}");
        sb.AppendLine($"  data seed {seed}");
        for (int k = 0; k < xs.Length; k++) sb.AppendLine($"  arg {k}{(args is null ? "" : $" ({(args[k].Kind == "" ? "" : args[k].Kind + ", ")}per-example shape {args[k].Shape})")}: {Show(xs[k])}");
        return sb.ToString();
    }

    /// <summary>The main property: (nested) Vmap of the op equals the loop over the members, stacked at out_axes.</summary>
    public static void CheckOp(VmapDecoder c, VmapOp op, int depth = 1, int maxSize = 4)
    {
        var levels = Levels(c, op.Args.Select(a => a.Shape.Rank).ToArray(), depth, Big > 0 ? 9 : maxSize);
        int seed = c.Seed();
        var xs = MakeArgs(op.Args, levels, new System.Random(seed));
        string Desc() => Describe(op.Name, levels, xs, seed, c.Genes, op.Args);
        Tensor[] probe;
        try { probe = op.F(FirstMember(xs, levels)); }
        catch (Exception e) { throw new VmapCaseFailure("the case itself is invalid (the per-example function threw):\n" + Desc(), e); }
        // Jx caps ranks at Shape.MaxRank: a case whose batched output would be above it is out of range, not a failure.
        if (probe.Any(t => t.Rank + depth > Shape.MaxRank)) return;
        ResolveOut(levels, probe.Min(t => t.Rank));
        Tensor[] expected;
        try { expected = Loop((a, _) => op.F(a), xs, levels); }
        catch (Exception e) { throw new VmapCaseFailure("the reference loop threw:\n" + Desc(), e); }
        Tensor[] actual;
        try { actual = Nested(op.F, xs.Length, levels)(xs); }
        catch (Exception e) { throw new VmapCaseFailure($"Vmap threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare(expected, actual, op.Exact, Desc, op.Tol);
    }

    /// <summary>Vmap over an empty batch (size 0) gives outputs of the per-example shapes and dtypes with a 0 inserted
    /// at out_axes.</summary>
    public static void CheckEmpty(VmapDecoder c, VmapOp op)
    {
        var levels = Levels(c, op.Args.Select(a => a.Shape.Rank).ToArray());
        levels[0].Size = 0;
        int seed = c.Seed();
        var rng = new System.Random(seed);
        var samples = op.Args.Select(a => a.Data(rng, a.Shape)).ToArray();
        bool splat = c.Bool();
        var xs = samples.Select((t, k) =>
        {
            if (levels[0].Norm[k] is not int ax) return t;
            var shape = t.Shape.ToList();
            shape.Insert(ax, 0);
            // an empty buffer, or an empty splat (Np.Zeros): kernels take different paths for them
            return splat ? Np.Zeros(new Shape(shape.ToArray()), t.DType) : Tensor.FromArray(new double[0], new Shape(shape.ToArray())).AsType(t.DType);
        }).ToArray();
        string Desc() => Describe(op.Name + " (empty batch)", levels, xs, seed, c.Genes);
        Tensor[] probe;
        try { probe = op.F(samples); }
        catch (Exception e) { throw new VmapCaseFailure("the case itself is invalid (the per-example function threw):\n" + Desc(), e); }
        ResolveOut(levels, probe.Min(t => t.Rank));
        var expected = probe.Select(t =>
        {
            int rank = t.Rank + 1, oa = levels[0].OutAxes < 0 ? levels[0].OutAxes + rank : levels[0].OutAxes;
            var shape = t.Shape.ToList();
            shape.Insert(oa, 0);
            return Np.Zeros(new Shape(shape.ToArray()), t.DType);
        }).ToArray();
        Tensor[] actual;
        try { actual = Nested(op.F, xs.Length, levels)(xs); }
        catch (Exception e) { throw new VmapCaseFailure($"Vmap threw {e.GetType().Name}: {e.Message}\n" + Desc(), e); }
        Compare(expected, actual, true, Desc);
    }

    public static void Compare(Tensor[] expected, Tensor[] actual, bool exact, Func<string> desc, double tol = Tol)
    {
        if (expected.Length != actual.Length) throw new VmapCaseFailure($"{actual.Length} outputs, expected {expected.Length}\n" + desc());
        for (int j = 0; j < expected.Length; j++)
            if (Diff(expected[j], actual[j], exact, tol) is string d)
                throw new VmapCaseFailure($"Vmap differs from the loop at output {j}: {d}\n" + desc());
    }

    // ---------------- shapes ----------------

    /// <summary>While positive, shapes drawn by <see cref="RandShape"/> have dims up to this many times larger and batches
    /// up to 9 (to reach the blocked, vectorized and parallel paths of the kernels).</summary>
    [ThreadStatic] public static int Big;

    public static Shape RandShape(VmapDecoder c, int minRank, int maxRank, int minDim = 1, int maxDim = 3)
    {
        if (Big > 0) maxDim *= Big;
        var dims = Enumerable.Range(0, c.Range(minRank, maxRank)).Select(_ => c.Range(minDim, maxDim)).ToArray();
        // keep big cases below a few thousand elements
        for (int i = 0; Big > 0 && dims.Aggregate(1L, (a, b) => a * b) > 4096; i = (i + 1) % dims.Length) dims[i] = Math.Max(minDim, dims[i] / 2);
        return new(dims);
    }

    /// <summary>An operand shape that broadcasts to <paramref name="result"/>: a suffix of it with some dims set to 1.</summary>
    public static Shape BroadcastOperand(VmapDecoder c, Shape result)
    {
        int r = c.Range(0, result.Rank);
        return new Shape(result.Skip(result.Rank - r).Select(d => c.OneIn(3) ? 1 : d).ToArray());
    }

    /// <summary>A random subset of the axes of a rank (each maybe written negative).</summary>
    public static int[] Axes(VmapDecoder c, int rank, bool nonEmpty = false)
    {
        var axes = Enumerable.Range(0, rank).Where(_ => c.Bool()).ToList();
        if (nonEmpty && axes.Count == 0 && rank > 0) axes.Add(c.Int(rank));
        return axes.Select(a => Neg(c, a, rank)).ToArray();
    }

    /// <summary>The axis, or (at random) its negative alias.</summary>
    public static int Neg(VmapDecoder c, int axis, int rank) => c.Bool() ? axis - rank : axis;

    public static string Str(IEnumerable<int> xs) => "[" + string.Join(", ", xs) + "]";
    public static string Str(int? x) => x?.ToString() ?? "null";
}

/// <summary>Small random programs over one or two float64 tensors: a list of steps, each an op code and three
/// parameters whose meaning depends only on the current shapes, so running the program per example and under Vmap
/// takes the same path. Registers start as the inputs; every step appends a register or replaces one; the outputs are
/// all registers.</summary>
internal static class VmapProgram
{
    public const int NumOps = 15;

    public static int[][] Decode(VmapDecoder c, int steps) =>
        Enumerable.Range(0, steps).Select(_ => new[] { c.Int(NumOps), c.Int(1000), c.Int(1000), c.Int(1000) }).ToArray();

    /// <summary>The program as text, for the given input shapes.</summary>
    public static string Text(int[][] code, int[][] shapes)
    {
        var log = new List<string>();
        try { Run(code, shapes.Select(s => Np.Zeros(new Shape(s), DType.Float64)).ToArray(), log); }
        catch (Exception e) { log.Add($"(throws {e.GetType().Name}: {e.Message})"); }
        return string.Join("\n    ", log);
    }

    private static bool Broadcasts(Shape from, Shape to) =>
        from.Rank <= to.Rank && Enumerable.Range(1, from.Rank).All(i => from[^i] == 1 || from[^i] == to[^i]);

    /// <summary>b made to broadcast against a: itself when it does, else its sum.</summary>
    private static Tensor Fit(Tensor b, Tensor a) => Broadcasts(b.Shape, a.Shape) || Broadcasts(a.Shape, b.Shape) ? b : Np.Sum(b);

    public static Tensor[] Run(int[][] code, Tensor[] inputs, List<string>? log = null)
    {
        var regs = inputs.ToList();
        foreach (var step in code)
        {
            int op = step[0], p1 = step[1], p2 = step[2], p3 = step[3];
            int ia = p1 % regs.Count, ib = p2 % regs.Count;
            var (a, b) = (regs[ia], regs[ib]);
            int r = a.Rank;
            int axis = r == 0 ? 0 : p2 % r;
            bool small = a.Size <= 24 && r < 3;
            string d;
            Tensor o;
            switch (op)
            {
                case 0:
                {
                    (d, o) = (p2 % 9) switch
                    {
                        0 => ("tanh", Np.Tanh(a)), 1 => ("sin", Np.Sin(a)), 2 => ("0.5 * square", Np.Square(a) * 0.5), 3 => ("abs", Np.Abs(a)),
                        4 => ("negative", -a), 5 => ("exp(tanh)", Np.Exp(Np.Tanh(a))), 6 => ("sigmoid", Nn.Sigmoid(a)), 7 => ("relu", Nn.Relu(a)),
                        _ => ("1.5 * x + 0.25", a * 1.5 + 0.25),
                    };
                    d = $"{d}(r{ia})";
                    break;
                }
                case 1:
                {
                    var bf = Fit(b, a);
                    string bs = ReferenceEquals(bf, b) ? $"r{ib}" : $"sum(r{ib})";
                    (d, o) = (p3 % 6) switch
                    {
                        0 => ("+", a + bf), 1 => ("-", a - bf), 2 => ("*", a * bf), 3 => ("maximum", Np.Maximum(a, bf)),
                        4 => ("minimum", Np.Minimum(a, bf)), _ => ("/ (1 + square)", a / (1 + Np.Square(bf))),
                    };
                    d = $"r{ia} {d} {bs}";
                    break;
                }
                case 2:
                {
                    if (r == 0) { (d, o) = ($"0.5 * r{ia}", a * 0.5); break; }
                    bool keep = p3 % 2 == 1;
                    (d, o) = ((p3 / 2) % 4) switch
                    {
                        0 => ("sum", Np.Sum(a, axis, keep)), 1 => ("max", Np.Max(a, axis, keep)), 2 => ("mean", Np.Mean(a, axis, keep)),
                        _ => ("logsumexp", Nn.LogSumExp(a, axis, keep)),
                    };
                    d = $"{d}(r{ia}, axis {axis}, keepDims {keep})";
                    break;
                }
                case 3:
                {
                    switch (p2 % 4)
                    {
                        case 0: (d, o) = ($"ravel(r{ia})", Np.Ravel(a)); break;
                        case 1 when r < 4: int e = p3 % (r + 1); (d, o) = ($"expand_dims(r{ia}, {e})", Np.ExpandDims(a, e)); break;
                        case 2 when r >= 2: (d, o) = ($"merge first two dims of r{ia}", Np.Reshape(a, [a.Shape[0] * a.Shape[1], .. a.Shape.Skip(2)])); break;
                        case 2: (d, o) = ($"reshape r{ia} to (1, -1)", Np.Reshape(a, 1, -1)); break;
                        default: (d, o) = ($"squeeze(r{ia})", Np.Squeeze(a)); break;
                    }
                    break;
                }
                case 4:
                {
                    if (r < 2) { (d, o) = ($"flip(r{ia})", Np.Flip(a)); break; }
                    if (p2 % 2 == 0) { (d, o) = ($"transpose(r{ia})", Np.Transpose(a)); break; }
                    int s1 = p3 % r, s2 = (p3 / 7) % r;
                    (d, o) = ($"swapaxes(r{ia}, {s1}, {s2 - r})", Np.SwapAxes(a, s1, s2 - r));
                    break;
                }
                case 5:
                {
                    if (r == 0) { (d, o) = ($"r{ia}", a); break; }
                    int n = a.Shape[axis];
                    if ((p3 / 5) % 2 == 0) { int st = p3 % n; (d, o) = ($"slice r{ia}[{st}:] on axis {axis}", Lax.SliceInDim(a, st, n, 1, axis)); }
                    else (d, o) = ($"slice r{ia}[::2] on axis {axis}", Lax.SliceInDim(a, 0, n, 2, axis));
                    break;
                }
                case 6:
                {
                    if (!small) goto default;
                    if (r == 0) { var bf = Fit(b, a); (d, o) = ($"stack(r{ia}, sum(r{ib}))", Np.Stack([a, Np.Sum(bf)])); break; }
                    var other = b.Shape == a.Shape ? b : a * 0.5;
                    (d, o) = ($"concatenate(r{ia}, {(b.Shape == a.Shape ? $"r{ib}" : $"0.5 * r{ia}")}, axis {axis - r})", Np.Concatenate([a, other], axis - r));
                    break;
                }
                case 7:
                {
                    if (r == 0) { (d, o) = ($"r{ia} * r{ia}", a * a); break; }
                    if (p3 % 2 == 1 && b.Rank == 1 && b.Shape[0] == a.Shape[^1]) { (d, o) = ($"matmul(r{ia}, r{ib})", Np.Matmul(a, b)); break; }
                    if (r == 1 && small && p2 % 2 == 0) { (d, o) = ($"outer(r{ia}, r{ia}) / n", Np.Outer(a, a) / a.Shape[0]); break; }
                    if (r == 1) { (d, o) = ($"dot(r{ia}, r{ia})", Np.Dot(a, a)); break; }
                    (d, o) = ($"matmul(r{ia}, swapaxes(r{ia}, -1, -2)) / n", Np.Matmul(a, Np.SwapAxes(a, -1, -2)) / a.Shape[^1]);
                    break;
                }
                case 8:
                    if (r == 0) goto default;
                    (d, o) = ($"cumsum(r{ia}, axis {axis})", Np.Cumsum(a, axis));
                    break;
                case 9:
                {
                    if (r == 0) goto default;
                    int n = a.Shape[axis];
                    var idx = new[] { 0, n - 1, p3 % n };
                    (d, o) = ($"take(r{ia}, {VmapRun.Str(idx)}, axis {axis})", Np.Take(a, Tensor.FromArray(idx), axis));
                    break;
                }
                case 10:
                {
                    if (r == 0) goto default;
                    int n = a.Shape[axis];
                    var i = Np.Remainder(Np.Argmax(Np.Ravel(b)), n);
                    string si = $"argmax(r{ib}) % {n}";
                    switch (p3 % 3)
                    {
                        case 0: (d, o) = ($"take(r{ia}, {si}, axis {axis})", Np.Take(a, i, axis)); break;
                        case 1: int n0 = a.Shape[0]; (d, o) = ($"r{ia}.At[argmax(r{ib}) % {n0}].Add(1)", a.At[Np.Remainder(Np.Argmax(Np.Ravel(b)), n0)].Add(1.0)); break;
                        default:
                            var starts = Enumerable.Range(0, r).Select(k => k == axis ? i : Np.Zeros([], DType.Int32)).ToArray();
                            var sizes = a.Shape.Select((s, k) => k == axis ? 1 : s).ToArray();
                            (d, o) = ($"dynamic_slice(r{ia}, {si} on axis {axis}, size 1)", Lax.DynamicSlice(a, starts, sizes));
                            break;
                    }
                    break;
                }
                case 11:
                    if (!small) goto default;
                    (d, o) = ($"broadcast_to(r{ia}, (2, ...))", Np.BroadcastTo(a, new Shape([2, .. a.Shape])));
                    break;
                case 12:
                    if (r == 0) goto default;
                    (d, o) = ($"sort(r{ia}, axis {axis})", Np.Sort(a, axis));
                    break;
                case 13:
                {
                    if (r == 0 || !small) goto default;
                    var w = Enumerable.Range(0, r).Select(k => k == axis ? (1, p3 % 2) : (0, 0)).ToArray();
                    (d, o) = ($"pad(r{ia}, {string.Join(" ", w)}, 0.5)", Np.Pad(a, w, 0.5));
                    break;
                }
                case 14:
                {
                    var bf = Fit(b, a);
                    (d, o) = ($"where({(ReferenceEquals(bf, b) ? $"r{ib}" : $"sum(r{ib})")} > 0, r{ia}, -r{ia})", Np.Where(bf > 0, a, -a));
                    break;
                }
                default:
                    (d, o) = ($"tanh(r{ia})", Np.Tanh(a));
                    break;
            }
            int dst = (p1 / 7) % 3 == 0 && regs.Count < 4 ? regs.Count : ia;
            if (dst == regs.Count) regs.Add(o); else regs[dst] = o;
            log?.Add($"r{dst} = {d}  : {o.Shape}");
        }
        return regs.ToArray();
    }
}
