namespace Jx;

/// <summary>Which operand dimension plays which role in a convolution, as lax.ConvDimensionNumbers: <see cref="LhsSpec"/>
/// lists the lhs dimensions (batch, feature, spatial...), <see cref="RhsSpec"/> the kernel dimensions (output feature,
/// input feature, spatial...) and <see cref="OutSpec"/> the output dimensions (batch, feature, spatial...). Spatial
/// dimensions are paired by position. A string triple such as <c>("NHWC", "HWIO", "NHWC")</c> converts implicitly,
/// parsed as lax.conv_dimension_numbers does.</summary>
/// <example><code>
/// ConvDimensionNumbers dn = ("NHWC", "HWIO", "NHWC");
/// // dn.LhsSpec == [0, 3, 1, 2], dn.RhsSpec == [3, 2, 0, 1], dn.OutSpec == [0, 3, 1, 2]
/// </code></example>
public sealed record ConvDimensionNumbers
{
    /// <summary>lhs dimension indices: batch, feature, then the spatial dimensions.</summary>
    public int[] LhsSpec { get; }
    /// <summary>rhs (kernel) dimension indices: output feature, input feature, then the spatial dimensions.</summary>
    public int[] RhsSpec { get; }
    /// <summary>output dimension indices: batch, feature, then the spatial dimensions.</summary>
    public int[] OutSpec { get; }

    /// <summary>Dimension numbers from explicit index lists (each a permutation of 0..rank-1, checked when bound).</summary>
    public ConvDimensionNumbers(int[] lhsSpec, int[] rhsSpec, int[] outSpec)
    {
        LhsSpec = (int[])lhsSpec.Clone();
        RhsSpec = (int[])rhsSpec.Clone();
        OutSpec = (int[])outSpec.Clone();
    }

    /// <summary>The default layout of lax.conv_general_dilated: NCH..., OIH..., NCH... (every spec is 0, 1, ..., rank-1).</summary>
    public static ConvDimensionNumbers Default(int rank)
    {
        var id = Enumerable.Range(0, rank).ToArray();
        return new(id, id, id);
    }

    /// <summary>Parses layout strings as lax.conv_dimension_numbers: lhs and out use 'N' (batch) and 'C' (feature),
    /// the kernel uses 'O' (output feature) and 'I' (input feature); every other character is a spatial dimension, and
    /// spatial dimensions are ordered as they appear in the kernel string.</summary>
    /// <example><code>var dn = ConvDimensionNumbers.Parse("NCHW", "OIHW", "NCHW"); // the default for rank 4</code></example>
    public static ConvDimensionNumbers Parse(string lhs, string rhs, string output)
    {
        string[] specs = [lhs, rhs, output];
        (char A, char B)[] pairs = [('N', 'C'), ('O', 'I'), ('N', 'C')];
        for (int i = 0; i < 3; i++)
        {
            var s = specs[i];
            if (s.Count(c => c == pairs[i].A) != 1 || s.Count(c => c == pairs[i].B) != 1)
                throw new InvalidArgumentError($"convolution dimension_numbers[{i}] must contain the characters '{pairs[i].A}' and '{pairs[i].B}' exactly once, got '{s}' (e.g. (\"NHWC\", \"HWIO\", \"NHWC\") or (\"NCHW\", \"OIHW\", \"NCHW\"))");
            if (s.Distinct().Count() != s.Length)
                throw new InvalidArgumentError($"convolution dimension_numbers[{i}] cannot have duplicate characters, got '{s}'");
        }
        var sl = lhs.Where(c => c is not ('N' or 'C')).ToHashSet();
        var sr = rhs.Where(c => c is not ('O' or 'I')).ToHashSet();
        var so = output.Where(c => c is not ('N' or 'C')).ToHashSet();
        if (!sl.SetEquals(sr) || !sl.SetEquals(so))
            throw new InvalidArgumentError($"convolution dimension_numbers elements must each have the same set of spatial characters, got ('{lhs}', '{rhs}', '{output}')");
        int[] Perm(string s, (char A, char B) pair)
        {
            var spatial = Enumerable.Range(0, s.Length).Where(i => s[i] != pair.A && s[i] != pair.B);
            if (!ReferenceEquals(s, rhs)) spatial = spatial.OrderBy(i => rhs.IndexOf(s[i]));
            return [s.IndexOf(pair.A), s.IndexOf(pair.B), .. spatial];
        }
        return new(Perm(lhs, pairs[0]), Perm(rhs, pairs[1]), Perm(output, pairs[2]));
    }

    /// <summary>A layout triple such as <c>("NHWC", "HWIO", "NHWC")</c>; see <see cref="Parse"/>.</summary>
    public static implicit operator ConvDimensionNumbers((string Lhs, string Rhs, string Out) specs) => Parse(specs.Lhs, specs.Rhs, specs.Out);

    /// <summary>The params value: a ParamList of three IntLists (lhs_spec, rhs_spec, out_spec).</summary>
    public ParamList ToParam() => new(new IntList(LhsSpec), new IntList(RhsSpec), new IntList(OutSpec));

    /// <summary>Reads the dimension_numbers param written by <see cref="ToParam"/>.</summary>
    public static ConvDimensionNumbers FromParam(object? p)
    {
        if (p is ConvDimensionNumbers d) return d;
        if (p is not ParamList { Count: 3 } l || l.Any(x => x is not IntList))
            throw new InvalidArgumentError($"conv_general_dilated: dimension_numbers must be a ParamList of three IntLists (lhs_spec, rhs_spec, out_spec), got {Params.Format(p)}");
        return new(((IntList)l[0]!).ToArray(), ((IntList)l[1]!).ToArray(), ((IntList)l[2]!).ToArray());
    }

    /// <summary>Structural equality over the three specs.</summary>
    public bool Equals(ConvDimensionNumbers? other) => other is not null &&
        LhsSpec.AsSpan().SequenceEqual(other.LhsSpec) && RhsSpec.AsSpan().SequenceEqual(other.RhsSpec) && OutSpec.AsSpan().SequenceEqual(other.OutSpec);

    /// <summary>Hash of the three specs.</summary>
    public override int GetHashCode() => HashCode.Combine(new IntList(LhsSpec), new IntList(RhsSpec), new IntList(OutSpec));

    /// <summary>As JAX prints it: ConvDimensionNumbers(lhs_spec=(0, 1, 2), rhs_spec=(0, 1, 2), out_spec=(0, 1, 2)).</summary>
    public override string ToString() => $"ConvDimensionNumbers(lhs_spec={new IntList(LhsSpec)}, rhs_spec={new IntList(RhsSpec)}, out_spec={new IntList(OutSpec)})";
}

/// <summary>The checked geometry of one convolution in canonical layout: lhs (N, C, in spatial...), rhs (O, I, kernel
/// spatial...), output (N / batch_group_count, O, out spatial...).</summary>
internal sealed class ConvGeometry
{
    public required ConvDimensionNumbers Dn;
    public required int Batch, InFeatures, OutFeatures, KernelInFeatures, FeatureGroups, BatchGroups;
    public required int[] InSpatial, KernelSpatial, OutSpatial, Strides, LhsDilation, RhsDilation;
    public required (int Lo, int Hi)[] Padding;
    public int SpatialRank => InSpatial.Length;
    public int OutBatch => Batch / BatchGroups;

    /// <summary>The output shape in the layout of out_spec.</summary>
    public int[] OutShape()
    {
        var canon = new[] { OutBatch, OutFeatures }.Concat(OutSpatial).ToArray();
        var shape = new int[canon.Length];
        for (int j = 0; j < canon.Length; j++) shape[Dn.OutSpec[j]] = canon[j];
        return shape;
    }
}

/// <summary>Convolution primitives: conv_general_dilated, with lax's semantics (strides, explicit low/high padding that
/// may be negative, lhs and rhs dilation, feature groups and batch groups, any layout through dimension numbers).
/// The eager kernel is im2col followed by GEMM (<see cref="Gemm"/>); see ConvKernel.</summary>
[PrimitiveFamily]
public static class Convolution
{
    private const string Name = "conv_general_dilated";

    /// <summary>conv_general_dilated(lhs, rhs)[batch_group_count, dimension_numbers, feature_group_count, lhs_dilation,
    /// padding, precision, preferred_element_type, rhs_dilation, window_strides]. padding is a ParamList of IntList (lo, hi)
    /// pairs per spatial dimension; dimension_numbers a ParamList of three IntLists (see <see cref="ConvDimensionNumbers"/>).</summary>
    public static readonly Primitive ConvGeneralDilated = new(Name, "convolution",
        (ins, p) =>
        {
            Elementwise.Check(Name, ins, 2);
            var (l, r) = (ins[0], ins[1]);
            if (l.DType != r.DType)
                throw new DTypeError($"{Name} requires arguments to have the same dtypes, got {l.DType.Name()} (lhs {l.Shape}) and {r.DType.Name()} (rhs {r.Shape}); convert one with x.AsType(...) first");
            if (l.DType == DType.Bool)
                throw new DTypeError($"{Name} does not take bool operands (lhs {l.Shape}, rhs {r.Shape}); convert them to a numeric type first");
            var g = Geometry(l.Shape, r.Shape, p);
            var outType = p.Has("preferred_element_type") && p["preferred_element_type"] is DType d0 ? d0 : l.DType;
            return [new Aval(new Shape(g.OutShape()), outType, l.Weak && r.Weak && outType == l.DType)];
        },
        (xs, p, o) => [ConvKernel.Run(xs[0], xs[1], Geometry(xs[0].Shape, xs[1].Shape, p), o[0])]);

    /// <summary>Reads padding params ((lo, hi) pairs).</summary>
    internal static (int Lo, int Hi)[] Pairs(string op, string name, object? v)
    {
        if (v is not ParamList l || l.Any(x => x is not IntList { Count: 2 }))
            throw new InvalidArgumentError($"{op}: {name} must be a ParamList of (low, high) IntList pairs, got {Params.Format(v)}");
        return l.Select(x => { var q = (IntList)x!; return (q[0], q[1]); }).ToArray();
    }

    /// <summary>The params value of padding pairs.</summary>
    internal static ParamList PairsParam((int Lo, int Hi)[] pads) => new(pads.Select(q => (object?)new IntList(q.Lo, q.Hi)).ToArray());

    internal static int Dilate(int d, int dilation) => d == 0 ? 0 : 1 + dilation * (d - 1);

    /// <summary>(padded − window) // stride + 1 with Python's floor division, and never below 0.</summary>
    internal static int StrideDim(int padded, int window, int stride) => Math.Max(0, (int)Math.Floor((padded - window) / (double)stride) + 1);

    private static string Fmt(int[] a) => new IntList(a).ToString();

    /// <summary>Each spec must be a permutation of the operands' dimensions.</summary>
    internal static void CheckSpecs(ConvDimensionNumbers dn, Shape lhs, Shape rhs)
    {
        int rank = lhs.Rank;
        foreach (var (spec, what) in new[] { (dn.LhsSpec, "lhs_spec"), (dn.RhsSpec, "rhs_spec"), (dn.OutSpec, "out_spec") })
            if (spec.Length != rank || spec.Order().Where((v, i) => v != i).Any())
                throw new ShapeError($"{Name}: dimension_numbers {what} {Fmt(spec)} must be a permutation of the {rank} dimensions of lhs {lhs} and rhs {rhs} (layout strings must have one character per dimension)");
    }

    internal static ConvGeometry Geometry(Shape lhs, Shape rhs, Params p)
    {
        if (lhs.Rank != rhs.Rank)
            throw new ShapeError($"{Name} lhs and rhs must have the same number of dimensions, but got {lhs} and {rhs}");
        int rank = lhs.Rank;
        if (rank < 2)
            throw new ShapeError($"{Name} needs operands of rank >= 2 (batch and feature dimensions, then spatial ones), got lhs {lhs} and rhs {rhs}");
        var dn = ConvDimensionNumbers.FromParam(p["dimension_numbers"]);
        CheckSpecs(dn, lhs, rhs);
        int s = rank - 2;
        var strides = p.Ints("window_strides");
        var pads = Pairs(Name, "padding", p["padding"]);
        var ld = p.Ints("lhs_dilation");
        var rd = p.Ints("rhs_dilation");
        if (strides.Length != s)
            throw new ShapeError($"{Name} window and window_strides must have the same number of dimensions, but got {s} and {strides.Length} (lhs {lhs}, rhs {rhs}, window_strides {Fmt(strides)})");
        if (pads.Length != s)
            throw new ShapeError($"Wrong number of explicit pads for convolution: expected {s}, got {pads.Length} (one (low, high) pair per spatial dimension of lhs {lhs})");
        if (ld.Length != s) throw new ShapeError($"{Name}: lhs_dilation {Fmt(ld)} must have one entry per spatial dimension ({s})");
        if (rd.Length != s) throw new ShapeError($"{Name}: rhs_dilation {Fmt(rd)} must have one entry per spatial dimension ({s})");
        if (strides.Any(v => v <= 0)) throw new InvalidArgumentError($"{Name}: window_strides must have every element be positive, got {Fmt(strides)}");
        if (ld.Any(v => v <= 0)) throw new InvalidArgumentError($"{Name}: lhs_dilation must have every element be positive, got {Fmt(ld)}");
        if (rd.Any(v => v <= 0)) throw new InvalidArgumentError($"{Name}: rhs_dilation must have every element be positive, got {Fmt(rd)}");

        int fgc = p.Int("feature_group_count"), bgc = p.Int("batch_group_count");
        if (fgc <= 0) throw new InvalidArgumentError($"{Name} feature_group_count must be a positive integer, got {fgc}");
        int lhsFeatures = lhs[dn.LhsSpec[1]];
        int rhsIn = rhs[dn.RhsSpec[1]], rhsOut = rhs[dn.RhsSpec[0]];
        if (lhsFeatures % fgc != 0)
            throw new ShapeError($"{Name} feature_group_count must divide lhs feature dimension size, but {fgc} does not divide {lhsFeatures} (lhs {lhs})");
        if (lhsFeatures / fgc != rhsIn)
            throw new ShapeError($"{Name} lhs feature dimension size divided by feature_group_count must equal the rhs input feature dimension size, but {lhsFeatures} // {fgc} != {rhsIn} (lhs {lhs}, rhs {rhs})");
        if (rhsOut % fgc != 0)
            throw new ShapeError($"{Name} rhs output feature dimension size must be a multiple of feature_group_count, but {rhsOut} is not a multiple of {fgc} (rhs {rhs})");
        if (bgc <= 0) throw new InvalidArgumentError($"{Name} batch_group_count must be a positive integer, got {bgc}");
        int lhsBatch = lhs[dn.LhsSpec[0]];
        if (bgc > 1 && lhsBatch % bgc != 0)
            throw new ShapeError($"{Name} batch_group_count must divide lhs batch dimension size, but {bgc} does not divide {lhsBatch} (lhs {lhs})");
        if (rhsOut % bgc != 0)
            throw new ShapeError($"{Name} rhs output feature dimension size must be a multiple of batch_group_count, but {rhsOut} is not a multiple of {bgc} (rhs {rhs})");
        if (bgc > 1 && fgc > 1)
            throw new InvalidArgumentError($"At most one of batch_group_count and feature_group_count may be > 1, got batch_group_count={bgc} and feature_group_count={fgc}");

        var inSp = dn.LhsSpec.Skip(2).Select(d => lhs[d]).ToArray();
        var kSp = dn.RhsSpec.Skip(2).Select(d => rhs[d]).ToArray();
        var outSp = new int[s];
        for (int i = 0; i < s; i++)
        {
            int padded = Dilate(inSp[i], ld[i]) + pads[i].Lo + pads[i].Hi;
            if (padded < 0)
                throw new ShapeError($"Negative padding is larger than the size of the corresponding dimension: got padding={PairsParam(pads)} for lhs spatial shape {Fmt(inSp)} (lhs {lhs})");
            outSp[i] = StrideDim(padded, Dilate(kSp[i], rd[i]), strides[i]);
        }
        return new ConvGeometry
        {
            Dn = dn, Batch = lhsBatch, InFeatures = lhsFeatures, OutFeatures = rhsOut, KernelInFeatures = rhsIn,
            FeatureGroups = fgc, BatchGroups = bgc, InSpatial = inSp, KernelSpatial = kSp, OutSpatial = outSp,
            Strides = strides, LhsDilation = ld, RhsDilation = rd, Padding = pads,
        };
    }

    /// <summary>The params of a conv_general_dilated equation, in the order JAX prints them.</summary>
    public static Params MakeParams(int[] windowStrides, (int Lo, int Hi)[] padding, int[] lhsDilation, int[] rhsDilation,
        ConvDimensionNumbers dimensionNumbers, int featureGroupCount, int batchGroupCount, DType? preferredElementType = null) =>
        Params.Of(
            ("batch_group_count", batchGroupCount),
            ("dimension_numbers", dimensionNumbers.ToParam()),
            ("feature_group_count", featureGroupCount),
            ("lhs_dilation", lhsDilation),
            ("padding", PairsParam(padding)),
            ("precision", null),
            ("preferred_element_type", preferredElementType),
            ("rhs_dilation", rhsDilation),
            ("window_strides", windowStrides));
}
