namespace Jx;

/// <summary>jax.lax: thin, strict wrappers over the primitives. Operands of elementwise ops must already have equal
/// shapes and dtypes (use <see cref="Np"/> for broadcasting and promotion).</summary>
/// <example><code>var y = Lax.Add(Lax.Sin(x), Lax.Cos(x)); var s = Lax.ReduceSum(y, [0]);</code></example>
public static partial class Lax
{
    // ----- elementwise unary -----
    public static Tensor Neg(Tensor x) => Elementwise.Neg.Bind1(x);
    public static Tensor Abs(Tensor x) => Elementwise.Abs.Bind1(x);
    public static Tensor Sign(Tensor x) => Elementwise.Sign.Bind1(x);
    public static Tensor Floor(Tensor x) => Elementwise.Floor.Bind1(x);
    public static Tensor Ceil(Tensor x) => Elementwise.Ceil.Bind1(x);
    /// <summary>Rounds halves away from zero (roundingMethod 0, lax's default) or to nearest even (1).</summary>
    public static Tensor Round(Tensor x, int roundingMethod = 0) => Elementwise.Round.Bind1([x], Params.Of(("rounding_method", roundingMethod)));
    public static Tensor Exp(Tensor x) => Elementwise.Exp.Bind1(x);
    public static Tensor Exp2(Tensor x) => Elementwise.Exp2.Bind1(x);
    public static Tensor Expm1(Tensor x) => Elementwise.Expm1.Bind1(x);
    public static Tensor Log(Tensor x) => Elementwise.Log.Bind1(x);
    public static Tensor Log1p(Tensor x) => Elementwise.Log1p.Bind1(x);
    public static Tensor Sqrt(Tensor x) => Elementwise.Sqrt.Bind1(x);
    public static Tensor Rsqrt(Tensor x) => Elementwise.Rsqrt.Bind1(x);
    public static Tensor Cbrt(Tensor x) => Elementwise.Cbrt.Bind1(x);
    public static Tensor Sin(Tensor x) => Elementwise.Sin.Bind1(x);
    public static Tensor Cos(Tensor x) => Elementwise.Cos.Bind1(x);
    public static Tensor Tan(Tensor x) => Elementwise.Tan.Bind1(x);
    public static Tensor Asin(Tensor x) => Elementwise.Asin.Bind1(x);
    public static Tensor Acos(Tensor x) => Elementwise.Acos.Bind1(x);
    public static Tensor Atan(Tensor x) => Elementwise.Atan.Bind1(x);
    public static Tensor Sinh(Tensor x) => Elementwise.Sinh.Bind1(x);
    public static Tensor Cosh(Tensor x) => Elementwise.Cosh.Bind1(x);
    public static Tensor Tanh(Tensor x) => Elementwise.Tanh.Bind1(x);
    public static Tensor Asinh(Tensor x) => Elementwise.Asinh.Bind1(x);
    public static Tensor Acosh(Tensor x) => Elementwise.Acosh.Bind1(x);
    public static Tensor Atanh(Tensor x) => Elementwise.Atanh.Bind1(x);
    public static Tensor Logistic(Tensor x) => Elementwise.Logistic.Bind1(x);
    public static Tensor Erf(Tensor x) => Elementwise.Erf.Bind1(x);
    public static Tensor Erfc(Tensor x) => Elementwise.Erfc.Bind1(x);
    public static Tensor ErfInv(Tensor x) => Elementwise.ErfInv.Bind1(x);
    public static Tensor Lgamma(Tensor x) => Elementwise.Lgamma.Bind1(x);
    public static Tensor Digamma(Tensor x) => Elementwise.Digamma.Bind1(x);
    public static Tensor IsFinite(Tensor x) => Elementwise.IsFinite.Bind1(x);
    public static Tensor Not(Tensor x) => Elementwise.Not.Bind1(x);
    public static Tensor Square(Tensor x) => Elementwise.Square.Bind1(x);
    public static Tensor IntegerPow(Tensor x, int y) => Elementwise.IntegerPow.Bind1([x], Params.Of(("y", y)));

    // ----- elementwise binary -----
    public static Tensor Add(Tensor a, Tensor b) => Elementwise.Add.Bind1(a, b);
    public static Tensor Sub(Tensor a, Tensor b) => Elementwise.Sub.Bind1(a, b);
    public static Tensor Mul(Tensor a, Tensor b) => Elementwise.Mul.Bind1(a, b);
    public static Tensor Div(Tensor a, Tensor b) => Elementwise.Div.Bind1(a, b);
    public static Tensor Rem(Tensor a, Tensor b) => Elementwise.Rem.Bind1(a, b);
    public static Tensor Pow(Tensor a, Tensor b) => Elementwise.Pow.Bind1(a, b);
    public static Tensor Max(Tensor a, Tensor b) => Elementwise.Max.Bind1(a, b);
    public static Tensor Min(Tensor a, Tensor b) => Elementwise.Min.Bind1(a, b);
    public static Tensor Atan2(Tensor a, Tensor b) => Elementwise.Atan2.Bind1(a, b);
    public static Tensor NextAfter(Tensor a, Tensor b) => Elementwise.NextAfter.Bind1(a, b);
    public static Tensor And(Tensor a, Tensor b) => Elementwise.And.Bind1(a, b);
    public static Tensor Or(Tensor a, Tensor b) => Elementwise.Or.Bind1(a, b);
    public static Tensor Xor(Tensor a, Tensor b) => Elementwise.Xor.Bind1(a, b);
    public static Tensor ShiftLeft(Tensor a, Tensor b) => Elementwise.ShiftLeft.Bind1(a, b);
    public static Tensor ShiftRightLogical(Tensor a, Tensor b) => Elementwise.ShiftRightLogical.Bind1(a, b);
    public static Tensor ShiftRightArithmetic(Tensor a, Tensor b) => Elementwise.ShiftRightArithmetic.Bind1(a, b);
    public static Tensor Eq(Tensor a, Tensor b) => Elementwise.Eq.Bind1(a, b);
    public static Tensor Ne(Tensor a, Tensor b) => Elementwise.Ne.Bind1(a, b);
    public static Tensor Lt(Tensor a, Tensor b) => Elementwise.Lt.Bind1(a, b);
    public static Tensor Le(Tensor a, Tensor b) => Elementwise.Le.Bind1(a, b);
    public static Tensor Gt(Tensor a, Tensor b) => Elementwise.Gt.Bind1(a, b);
    public static Tensor Ge(Tensor a, Tensor b) => Elementwise.Ge.Bind1(a, b);

    /// <summary>where pred is true, onTrue, else onFalse (select_n(pred, onFalse, onTrue)).</summary>
    public static Tensor Select(Tensor pred, Tensor onTrue, Tensor onFalse) => Conversions.SelectN.Bind1(pred, onFalse, onTrue);
    /// <summary>cases[which] elementwise.</summary>
    public static Tensor SelectN(Tensor which, params Tensor[] cases) => Conversions.SelectN.Bind1([which, .. cases], Params.Empty);
    public static Tensor Clamp(Tensor min, Tensor x, Tensor max) => Conversions.Clamp.Bind1(min, x, max);

    public static Tensor ConvertElementType(Tensor x, DType dtype, bool weakType = false)
    {
        if (x.DType == dtype && x.WeakType == weakType) return x;
        var p = Params.Of(("new_dtype", dtype), ("weak_type", weakType));
        // A concrete value converts at once (a constant stays a constant under any transform).
        if (x is not Tracer) return Conversions.Convert(x, new Aval(x.Shape, dtype, weakType));
        return Conversions.ConvertElementType.Bind1([x], p);
    }

    public static Tensor BitcastConvertType(Tensor x, DType dtype) => Conversions.BitcastConvertType.Bind1([x], Params.Of(("new_dtype", dtype)));

    // ----- shape -----
    public static Tensor BroadcastInDim(Tensor x, Shape shape, int[] broadcastDimensions)
    {
        if (x.Shape == shape && broadcastDimensions.Length == shape.Rank) return x;
        return ShapeOps.BroadcastInDim.Bind1([x], Params.Of(("shape", shape), ("broadcast_dimensions", broadcastDimensions), ("sharding", null)));
    }

    /// <summary>Broadcasts x by adding leading dimensions (lax.broadcast).</summary>
    public static Tensor Broadcast(Tensor x, int[] sizes) =>
        BroadcastInDim(x, new Shape(sizes.Concat(x.Shape).ToArray()), Enumerable.Range(sizes.Length, x.Rank).ToArray());

    public static Tensor Reshape(Tensor x, Shape shape)
    {
        if (x.Shape == shape) return x;
        return ShapeOps.Reshape.Bind1([x], Params.Of(("new_sizes", shape), ("dimensions", null)));
    }

    public static Tensor Transpose(Tensor x, int[] permutation)
    {
        if (permutation.Select((a, i) => a == i).All(b => b) && permutation.Length == x.Rank) return x;
        return ShapeOps.Transpose.Bind1([x], Params.Of(("permutation", permutation)));
    }

    public static Tensor Squeeze(Tensor x, int[] dimensions) =>
        dimensions.Length == 0 ? x : ShapeOps.Squeeze.Bind1([x], Params.Of(("dimensions", dimensions)));
    public static Tensor ExpandDims(Tensor x, int[] dimensions) =>
        dimensions.Length == 0 ? x : ShapeOps.ExpandDims.Bind1([x], Params.Of(("dimensions", dimensions)));
    public static Tensor Rev(Tensor x, int[] dimensions) =>
        dimensions.Length == 0 ? x : ShapeOps.Rev.Bind1([x], Params.Of(("dimensions", dimensions)));

    public static Tensor Slice(Tensor x, int[] start, int[] limit, int[]? strides = null) =>
        ShapeOps.Slice.Bind1([x], Params.Of(("start_indices", start), ("limit_indices", limit), ("strides", strides is null ? null : new IntList(strides))));

    /// <summary>Slices [start, limit) with stride along one axis.</summary>
    public static Tensor SliceInDim(Tensor x, int start, int limit, int stride = 1, int axis = 0)
    {
        var s = new int[x.Rank];
        var l = x.Shape.ToArray();
        var st = Enumerable.Repeat(1, x.Rank).ToArray();
        s[axis] = start; l[axis] = limit; st[axis] = stride;
        return Slice(x, s, l, stride == 1 ? null : st);
    }

    public static Tensor Concatenate(Tensor[] xs, int dimension) =>
        xs.Length == 1 ? xs[0] : ShapeOps.Concatenate.Bind1(xs, Params.Of(("dimension", dimension)));

    /// <summary>Pads with per-dimension (low, high, interior) amounts; low/high may be negative.</summary>
    public static Tensor Pad(Tensor x, Tensor paddingValue, (int Low, int High, int Interior)[] config) =>
        ShapeOps.Pad.Bind1([x, paddingValue], Params.Of(("padding_config", new ParamList(config.Select(c => (object?)new IntList(c.Low, c.High, c.Interior)).ToArray()))));

    public static Tensor Iota(DType dtype, int size) => BroadcastedIota(dtype, [size], 0);
    public static Tensor BroadcastedIota(DType dtype, Shape shape, int dimension) =>
        ShapeOps.Iota.Bind1([], Params.Of(("dtype", dtype), ("shape", shape), ("dimension", dimension), ("sharding", null)));

    /// <summary>The slice of <paramref name="sliceSizes"/> at dynamic start indices. As jax.lax.dynamic_slice (with its
    /// default allow_negative_indices=True), a negative start counts from the end of its dimension; then starts are
    /// clamped so that the slice fits.</summary>
    public static Tensor DynamicSlice(Tensor x, Tensor[] startIndices, int[] sliceSizes) =>
        ShapeOps.DynamicSlice.Bind1([x, .. NormalizeStarts(x.Shape, startIndices)], Params.Of(("slice_sizes", sliceSizes)));
    /// <summary>x with <paramref name="update"/> written at dynamic start indices (negative ones count from the end;
    /// starts are clamped so that the update fits), as jax.lax.dynamic_update_slice.</summary>
    public static Tensor DynamicUpdateSlice(Tensor x, Tensor update, Tensor[] startIndices) =>
        ShapeOps.DynamicUpdateSlice.Bind1([x, update, .. NormalizeStarts(x.Shape, startIndices)], Params.Empty);

    /// <summary>Signed scalar start indices i &lt; 0 become i + dim (concrete ones at once, traced ones with a select).</summary>
    private static Tensor[] NormalizeStarts(Shape shape, Tensor[] starts)
    {
        if (starts.Length != shape.Rank) return starts; // the primitive reports the mismatch
        var r = new Tensor[starts.Length];
        for (int i = 0; i < starts.Length; i++)
        {
            var s = starts[i];
            r[i] = s;
            if (s.Rank != 0 || !s.DType.IsSignedInteger()) continue;
            if (s is not Tracer)
            {
                long v = s.Item<long>();
                if (v < 0) r[i] = ConvertElementType(Tensor.Scalar(v + shape[i]), s.DType, s.WeakType);
                continue;
            }
            var zero = ConvertElementType(Tensor.Scalar(0), s.DType, s.WeakType);
            var dim = ConvertElementType(Tensor.Scalar(shape[i]), s.DType, s.WeakType);
            r[i] = Select(Lt(s, zero), Add(s, dim), s);
        }
        return r;
    }

    // ----- reductions -----
    public static Tensor ReduceSum(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceSum.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ReduceMax(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceMax.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ReduceMin(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceMin.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ReduceProd(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceProd.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ReduceAnd(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceAnd.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ReduceOr(Tensor x, int[] axes) => axes.Length == 0 ? x : Reductions.ReduceOr.Bind1([x], Params.Of(("axes", axes), ("out_sharding", null)));
    public static Tensor ArgMax(Tensor x, int axis, DType indexDType = DType.Int32) => Reductions.ArgMax.Bind1([x], Params.Of(("axes", new[] { axis }), ("index_dtype", indexDType)));
    public static Tensor ArgMin(Tensor x, int axis, DType indexDType = DType.Int32) => Reductions.ArgMin.Bind1([x], Params.Of(("axes", new[] { axis }), ("index_dtype", indexDType)));
    public static Tensor Cumsum(Tensor x, int axis = 0, bool reverse = false) => Reductions.Cumsum.Bind1([x], Params.Of(("axis", axis), ("reverse", reverse)));
    public static Tensor Cumprod(Tensor x, int axis = 0, bool reverse = false) => Reductions.Cumprod.Bind1([x], Params.Of(("axis", axis), ("reverse", reverse)));
    public static Tensor Cummax(Tensor x, int axis = 0, bool reverse = false) => Reductions.Cummax.Bind1([x], Params.Of(("axis", axis), ("reverse", reverse)));
    public static Tensor Cummin(Tensor x, int axis = 0, bool reverse = false) => Reductions.Cummin.Bind1([x], Params.Of(("axis", axis), ("reverse", reverse)));

    /// <summary>A value that differentiation treats as a constant (identity in the forward pass).</summary>
    public static Tensor StopGradient(Tensor x) => Misc.StopGradient.Bind1(x);
}
