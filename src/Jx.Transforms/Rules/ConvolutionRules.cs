namespace Jx;

/// <summary>Differentiation and batching rules of conv_general_dilated and the windowed reductions, after JAX's
/// jax/_src/lax/convolution.py and windowed_reductions.py.
/// <list type="bullet">
/// <item>conv_general_dilated is bilinear; the cotangent of each operand is another convolution (JAX's
/// _conv_general_dilated_transpose_lhs / _rhs): strides become lhs dilation and back, the kernel is reversed, and
/// feature groups and batch groups trade places between the two transposes.</item>
/// <item>Vmap folds the batch dimension into the batch, feature-group or output-feature dimension of a single
/// convolution (JAX's _conv_general_dilated_batch_rule) — never a loop over examples.</item>
/// <item>reduce_window_sum is linear; its transpose pads the cotangent (strides as interior padding) and sums it over
/// windows of ones with base dilation as stride. reduce_window_max/min differentiate an equivalent composition — the
/// windows gathered into a trailing axis with pads and strided slices, then reduce_max/min — so the tangent at a unique
/// maximum is the tangent of that element, as JAX's select_and_gather_add, and ties share it evenly.</item>
/// </list></summary>
internal static class ConvolutionRules
{
    internal static void Register()
    {
        Ad.DefBilinear(Convolution.ConvGeneralDilated, (ct, ins, p) =>
        {
            if (ins[0].IsLinear && ins[1].IsLinear)
                throw new NotDifferentiableError("transpose of conv_general_dilated with both operands linear (the function is not linear in them)");
            return ins[0].IsLinear
                ? [TransposeLhs(ct[0], ins[0].Aval, ins[1].Value, p), null]
                : [null, TransposeRhs(ct[0], ins[0].Value, ins[1].Aval, p)];
        });
        Batching.Def(Convolution.ConvGeneralDilated, ConvBatchRule);

        Ad.DefLinear(Windowed.ReduceWindowSum, (ct, ins, p) => [ReduceWindowSumTranspose(ct[0], ins[0].Aval, p)]);
        Ad.DefJvp(Windowed.ReduceWindowMax, ChooserJvp(Windowed.ReduceWindowMax, isMax: true));
        Ad.DefJvp(Windowed.ReduceWindowMin, ChooserJvp(Windowed.ReduceWindowMin, isMax: false));
        foreach (var prim in new[] { Windowed.ReduceWindowSum, Windowed.ReduceWindowMax, Windowed.ReduceWindowMin })
            Batching.Def(prim, WindowBatchRule(prim));
    }

    // ---------------- shared helpers ----------------

    private sealed record ConvParams(int[] Strides, (int Lo, int Hi)[] Padding, int[] LhsDilation, int[] RhsDilation,
        ConvDimensionNumbers Dn, int FeatureGroups, int BatchGroups, DType? PreferredElementType)
    {
        public static ConvParams Read(Params p) => new(
            p.Ints("window_strides"), Convolution.Pairs("conv_general_dilated", "padding", p["padding"]),
            p.Ints("lhs_dilation"), p.Ints("rhs_dilation"), ConvDimensionNumbers.FromParam(p["dimension_numbers"]),
            p.Int("feature_group_count"), p.Int("batch_group_count"),
            p["preferred_element_type"] is DType d ? d : null);
    }

    private static Tensor Conv(Tensor lhs, Tensor rhs, int[] strides, (int Lo, int Hi)[] padding, int[] lhsDilation,
        int[] rhsDilation, ConvDimensionNumbers dn, int featureGroups, int batchGroups, DType? preferred) =>
        Convolution.ConvGeneralDilated.Bind1([lhs, rhs],
            Convolution.MakeParams(strides, padding, lhsDilation, rhsDilation, dn, featureGroups, batchGroups, preferred));

    /// <summary>(spec[1], spec[0], spec[2:]...): swaps the two non-spatial roles of a spec (JAX's _conv_spec_transpose).</summary>
    private static int[] SpecTranspose(int[] spec) => [spec[1], spec[0], .. spec[2..]];

    private static int[] Take(Shape shape, int[] dims) => dims.Select(d => shape[d]).ToArray();

    /// <summary>Merges axis <paramref name="src"/> into axis <paramref name="dst"/> as its major factor; dst is numbered
    /// after src is removed (JAX's _reshape_axis_into).</summary>
    internal static Tensor ReshapeAxisInto(int src, int dst, Tensor x)
    {
        var perm = Enumerable.Range(0, x.Rank).Where(i => i != src).ToList();
        perm.Insert(dst, src);
        var shape = x.Shape.Where((_, i) => i != src).ToArray();
        shape[dst] *= x.Shape[src];
        return Lax.Reshape(Lax.Transpose(x, perm.ToArray()), new Shape(shape));
    }

    /// <summary>Splits axis <paramref name="src"/> into (size1, rest) (JAX's _reshape_axis_out_of).</summary>
    internal static Tensor ReshapeAxisOutOf(int src, int size1, Tensor x)
    {
        var shape = x.Shape.ToList();
        if (size1 <= 0 || shape[src] % size1 != 0)
            throw new InvalidOperationException($"cannot split axis {src} of {x.Shape} into {size1} parts");
        int size2 = shape[src] / size1;
        shape[src] = size2;
        shape.Insert(src, size1);
        return Lax.Reshape(x, new Shape(shape.ToArray()));
    }

    /// <summary>Padding of the convolution that computes the lhs cotangent (JAX's _conv_general_vjp_lhs_padding).</summary>
    internal static (int Lo, int Hi)[] VjpLhsPadding(int[] inShape, int[] windowDims, int[] strides, int[] outShape,
        (int Lo, int Hi)[] padding, int[] lhsDilation, int[] rhsDilation)
    {
        var pads = new (int, int)[inShape.Length];
        for (int i = 0; i < inShape.Length; i++)
        {
            int lhsD = Convolution.Dilate(inShape[i], lhsDilation[i]);
            int rhsD = Convolution.Dilate(windowDims[i], rhsDilation[i]);
            int outD = Convolution.Dilate(outShape[i], strides[i]);
            int before = rhsD - padding[i].Lo - 1;
            int after = lhsD + rhsD - 1 - outD - before;
            pads[i] = (before, after);
        }
        return pads;
    }

    /// <summary>Padding of the convolution that computes the rhs cotangent (JAX's _conv_general_vjp_rhs_padding).</summary>
    internal static (int Lo, int Hi)[] VjpRhsPadding(int[] inShape, int[] windowDims, int[] strides, int[] outShape,
        (int Lo, int Hi)[] padding, int[] lhsDilation, int[] rhsDilation)
    {
        var pads = new (int, int)[inShape.Length];
        for (int i = 0; i < inShape.Length; i++)
        {
            int lhsD = Convolution.Dilate(inShape[i], lhsDilation[i]);
            int rhsD = Convolution.Dilate(windowDims[i], rhsDilation[i]);
            int outD = Convolution.Dilate(outShape[i], strides[i]);
            int lo = padding[i].Lo;
            pads[i] = (lo, (outD - lhsD) + (rhsD - lo - 1));
        }
        return pads;
    }

    // ---------------- conv_general_dilated: transposes ----------------

    // Ignoring spatial dimensions, with m = batch, j = input feature, k = output feature, a convolution contracts
    // [m, j]·[j, k] → [m, k]; the lhs cotangent is [m, k]·[k, j] and the rhs cotangent [j, m]·[m, k]. With feature
    // groups the lhs transpose is again feature-grouped (the group moves from the kernel's output to its input
    // features) and the rhs transpose is batch-grouped; with batch groups it is the other way round.

    private static Tensor TransposeLhs(Tensor g, Aval lhs, Tensor rhs, Params p)
    {
        var c = ConvParams.Read(p);
        var (lhsSpec, rhsSpec, outSpec) = (c.Dn.LhsSpec, c.Dn.RhsSpec, c.Dn.OutSpec);
        var rhsShape = rhs.Shape;
        int fgc = c.FeatureGroups, bgc = c.BatchGroups;
        if (fgc > 1)
        {
            rhs = ReshapeAxisOutOf(rhsSpec[0], fgc, rhs);
            rhs = ReshapeAxisInto(rhsSpec[0], rhsSpec[1], rhs);
        }
        else if (bgc > 1)
        {
            rhs = ReshapeAxisOutOf(rhsSpec[0], bgc, rhs);
            rhs = ReshapeAxisInto(rhsSpec[0], rhsSpec[1], rhs);
            fgc = bgc;
        }
        var transDn = new ConvDimensionNumbers(outSpec, SpecTranspose(rhsSpec), lhsSpec);
        var padding = VjpLhsPadding(Take(lhs.Shape, lhsSpec[2..]), Take(rhsShape, rhsSpec[2..]), c.Strides,
            Take(g.Shape, outSpec[2..]), c.Padding, c.LhsDilation, c.RhsDilation);
        var revd = Lax.Rev(rhs, rhsSpec[2..]);
        if (revd.DType != g.DType) revd = Lax.ConvertElementType(revd, g.DType);
        var outT = Conv(g, revd, c.LhsDilation, padding, c.Strides, c.RhsDilation, transDn, fgc, 1, c.PreferredElementType);
        if (outT.DType != lhs.DType) outT = Lax.ConvertElementType(outT, lhs.DType);
        if (bgc > 1)
        {
            outT = ReshapeAxisOutOf(lhsSpec[1], bgc, outT);
            outT = ReshapeAxisInto(lhsSpec[1], lhsSpec[0], outT);
        }
        return outT;
    }

    private static Tensor TransposeRhs(Tensor g, Tensor lhs, Aval rhs, Params p)
    {
        var c = ConvParams.Read(p);
        if (g.Size == 0) return Np.Zeros(rhs.Shape, rhs.DType);
        var (lhsSpec, rhsSpec, outSpec) = (c.Dn.LhsSpec, c.Dn.RhsSpec, c.Dn.OutSpec);
        int fgc = c.FeatureGroups, bgc = c.BatchGroups;
        if (bgc > 1) { fgc = bgc; bgc = 1; }
        else if (fgc > 1) { bgc = fgc; fgc = 1; }
        var transDn = new ConvDimensionNumbers(SpecTranspose(lhsSpec), SpecTranspose(outSpec), SpecTranspose(rhsSpec));
        var padding = VjpRhsPadding(Take(lhs.Shape, lhsSpec[2..]), Take(rhs.Shape, rhsSpec[2..]), c.Strides,
            Take(g.Shape, outSpec[2..]), c.Padding, c.LhsDilation, c.RhsDilation);
        if (lhs.DType != g.DType) lhs = Lax.ConvertElementType(lhs, g.DType);
        var outT = Conv(lhs, g, c.RhsDilation, padding, c.LhsDilation, c.Strides, transDn, fgc, bgc, c.PreferredElementType);
        if (outT.DType != rhs.DType) outT = Lax.ConvertElementType(outT, rhs.DType);
        return outT;
    }

    // ---------------- conv_general_dilated: batching ----------------

    private static (Tensor[], int?[]) ConvBatchRule(Tensor[] vals, int?[] dims, Params ps, int size)
    {
        var (lhs, rhs) = (vals[0], vals[1]);
        var (lb, rb) = (dims[0], dims[1]);
        if (lb is null && rb is null) return ([Convolution.ConvGeneralDilated.Bind1(vals, ps)], [null]);
        var c = ConvParams.Read(ps);
        var (lhsSpec, rhsSpec, outSpec) = (c.Dn.LhsSpec, c.Dn.RhsSpec, c.Dn.OutSpec);
        int fgc = c.FeatureGroups, bgc = c.BatchGroups;
        Tensor Bind(Tensor l, Tensor r, int f, int b) =>
            Conv(l, r, c.Strides, c.Padding, c.LhsDilation, c.RhsDilation, c.Dn, f, b, c.PreferredElementType);

        if (size == 0)
        {
            // Folding a size-0 batch into another dimension loses that dimension's size: build the empty result directly.
            var lShape = lb is int l0 ? lhs.Shape.Where((_, i) => i != l0).ToArray() : lhs.Shape.ToArray();
            var rShape = rb is int r0 ? rhs.Shape.Where((_, i) => i != r0).ToArray() : rhs.Shape.ToArray();
            var outShape = Convolution.Geometry(new Shape(lShape), new Shape(rShape), ps).OutShape();
            return ([Np.Zeros(new Shape([0, .. outShape]), c.PreferredElementType ?? lhs.DType)], [0]);
        }

        if (lb is int ld && rb is int rd)
        {
            // Both batched: every example is its own group.
            Tensor newLhs;
            if (bgc > 1) { newLhs = ReshapeAxisInto(ld, lhsSpec[0], lhs); bgc *= size; }
            else { newLhs = ReshapeAxisInto(ld, lhsSpec[1], lhs); fgc *= size; }
            var newRhs = ReshapeAxisInto(rd, rhsSpec[0], rhs);
            var o = Bind(newLhs, newRhs, fgc, bgc);
            return ([ReshapeAxisOutOf(outSpec[1], size, o)], [outSpec[1]]);
        }

        if (lb is int l)
        {
            // Only the lhs is batched: the examples join the convolution's batch dimension.
            if (bgc == 1)
            {
                var o = Bind(ReshapeAxisInto(l, lhsSpec[0], lhs), rhs, fgc, 1);
                return ([ReshapeAxisOutOf(outSpec[0], size, o)], [outSpec[0]]);
            }
            // With batch groups the groups must stay outermost in the batch dimension.
            var nl = ReshapeAxisOutOf(lhsSpec[0] + (l <= lhsSpec[0] ? 1 : 0), bgc, lhs);
            nl = ReshapeAxisInto(l + (lhsSpec[0] < l ? 1 : 0), lhsSpec[0] + 1, nl);
            nl = ReshapeAxisInto(lhsSpec[0], lhsSpec[0], nl);
            var og = Bind(nl, rhs, fgc, bgc);
            return ([ReshapeAxisOutOf(outSpec[0], size, og)], [outSpec[0]]);
        }

        // Only the rhs is batched: the kernels join the output-feature dimension.
        int r = rb!.Value;
        if (fgc == 1 && bgc == 1)
        {
            var o = Bind(lhs, ReshapeAxisInto(r, rhsSpec[0], rhs), 1, 1);
            return ([ReshapeAxisOutOf(outSpec[1], size, o)], [outSpec[1]]);
        }
        // Groups must stay outermost in the output features: factor them out, fold the batch into the rest, put the
        // groups back; the output is unfolded the same way.
        int groups = fgc > 1 ? fgc : bgc;
        var nr = ReshapeAxisOutOf(rhsSpec[0] + (r <= rhsSpec[0] ? 1 : 0), groups, rhs);
        nr = ReshapeAxisInto(r + (rhsSpec[0] < r ? 1 : 0), rhsSpec[0] + 1, nr);
        nr = ReshapeAxisInto(rhsSpec[0], rhsSpec[0], nr);
        var outG = Bind(lhs, nr, fgc, bgc);
        outG = ReshapeAxisOutOf(outSpec[1], groups, outG);
        outG = ReshapeAxisOutOf(outSpec[1] + 1, size, outG);
        outG = ReshapeAxisInto(outSpec[1], outSpec[1] + 1, outG);
        return ([outG], [outSpec[1]]);
    }

    // ---------------- windowed reductions ----------------

    /// <summary>JAX's _reduce_window_sum_transpose_rule: the cotangent, padded (strides become interior padding), summed
    /// over windows of the same size with the forward base dilation as stride.</summary>
    private static Tensor ReduceWindowSumTranspose(Tensor ct, Aval operand, Params p)
    {
        var inShape = operand.Shape.ToArray();
        var dims = p.Ints("window_dimensions");
        var strides = p.Ints("window_strides");
        var padding = Convolution.Pairs("reduce_window_sum", "padding", p["padding"]);
        var bd = p.Ints("base_dilation");
        var wd = p.Ints("window_dilation");
        var pads = VjpLhsPadding(inShape, dims, strides, ct.Shape.ToArray(), padding, bd, wd);
        var cfg = pads.Select((q, i) => (q.Lo, q.Hi, strides[i] - 1)).ToArray();
        var padded = Lax.Pad(ct, Np.Zeros([], ct.DType), cfg);
        var ones = Enumerable.Repeat(1, inShape.Length).ToArray();
        var result = Windowed.ReduceWindowSum.Bind1([padded],
            Windowed.MakeParams(dims, bd, new (int, int)[inShape.Length], ones, wd));
        if (result.Shape != operand.Shape)
            throw new InvalidOperationException($"reduce_window_sum transpose produced {result.Shape} for operand {operand.Shape}");
        return result;
    }

    /// <summary>The JVP of reduce_window_max/min: differentiates <see cref="WindowChooser"/>, which computes the same
    /// values from pads, strided slices and reduce_max/min over a trailing window axis.</summary>
    private static JvpRule ChooserJvp(Primitive p, bool isMax) => (xs, ts, ps) =>
    {
        var ans = p.Bind1(xs, ps);
        if (ts[0] is not Tensor || !xs[0].DType.IsFloating()) return ([ans], [null]);
        var (_, t) = JvpFlat.Run(a => [WindowChooser(a[0], ps, isMax)], xs, ts);
        return ([ans], t);
    };

    /// <summary>reduce_window_max (or min) of a floating-point x as a composition of differentiable primitives: the
    /// operand padded with −inf (+inf) — base dilation as interior padding — then one strided slice per window offset,
    /// stacked on a trailing axis and reduced with reduce_max (reduce_min).</summary>
    internal static Tensor WindowChooser(Tensor x, Params p, bool isMax)
    {
        var name = isMax ? "reduce_window_max" : "reduce_window_min";
        var geo = Windowed.Geometry(name, x.Shape, p);
        int rank = x.Rank;
        var identity = Lax.ConvertElementType(Tensor.Scalar(isMax ? double.NegativeInfinity : double.PositiveInfinity), x.DType);
        if (geo.OutShape.Any(d => d == 0))
            return Lax.BroadcastInDim(identity, new Shape(geo.OutShape), []);
        var cfg = Enumerable.Range(0, rank).Select(i => (geo.Padding[i].Lo, geo.Padding[i].Hi, geo.BaseDilation[i] - 1)).ToArray();
        var padded = Lax.Pad(x, identity, cfg);
        var slices = new List<Tensor>();
        var offset = new int[rank];
        while (true)
        {
            var start = new int[rank];
            var limit = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                start[i] = offset[i] * geo.WindowDilation[i];
                limit[i] = start[i] + (geo.OutShape[i] - 1) * geo.Strides[i] + 1;
            }
            var s = Lax.Slice(padded, start, limit, geo.Strides.All(v => v == 1) ? null : geo.Strides);
            slices.Add(Lax.ExpandDims(s, [rank]));
            int k = rank - 1;
            while (k >= 0 && ++offset[k] == geo.Dims[k]) { offset[k] = 0; k--; }
            if (k < 0) break;
        }
        var stacked = Lax.Concatenate(slices.ToArray(), rank);
        return isMax ? Lax.ReduceMax(stacked, [rank]) : Lax.ReduceMin(stacked, [rank]);
    }

    /// <summary>JAX's _reduce_window_batch_rule: the batch dimension stays where it is, with a window of 1 over it.</summary>
    private static BatchRule WindowBatchRule(Primitive p) => (vals, dims, ps, size) =>
    {
        if (dims[0] is not int b) return ([p.Bind1(vals, ps)], [null]);
        int[] Ins(int[] a, int v) { var l = a.ToList(); l.Insert(b, v); return l.ToArray(); }
        var pads = Convolution.Pairs(p.Name, "padding", ps["padding"]).ToList();
        pads.Insert(b, (0, 0));
        var p2 = Windowed.MakeParams(Ins(ps.Ints("window_dimensions"), 1), Ins(ps.Ints("window_strides"), 1), pads.ToArray(),
            Ins(ps.Ints("base_dilation"), 1), Ins(ps.Ints("window_dilation"), 1));
        return ([p.Bind1(vals, p2)], [b]);
    };
}
