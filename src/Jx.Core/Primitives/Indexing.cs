namespace Jx;

/// <summary>How gather and scatter treat out-of-bounds indices (lax.GatherScatterMode).</summary>
public enum GatherScatterMode
{
    /// <summary>Starts are clamped so the whole slice is in bounds.</summary>
    Clip,
    /// <summary>Gather: out-of-bounds slices read the fill value. Scatter: out-of-bounds updates are dropped.</summary>
    FillOrDrop,
    /// <summary>The caller promises in-bounds indices; Jx clamps (never reads outside the array).</summary>
    PromiseInBounds,
}

/// <summary>XLA's gather dimension numbers (without batching dims): which output dims are slice (offset) dims,
/// which operand dims are collapsed away, and which operand dim each index component addresses.</summary>
public sealed record GatherDimensionNumbers(IntList OffsetDims, IntList CollapsedSliceDims, IntList StartIndexMap)
{
    public GatherDimensionNumbers(int[] offsetDims, int[] collapsedSliceDims, int[] startIndexMap)
        : this(new IntList(offsetDims), new IntList(collapsedSliceDims), new IntList(startIndexMap)) { }
    public override string ToString() =>
        $"GatherDimensionNumbers(offset_dims={OffsetDims}, collapsed_slice_dims={CollapsedSliceDims}, start_index_map={StartIndexMap}, operand_batching_dims=(), start_indices_batching_dims=())";
}

/// <summary>XLA's scatter dimension numbers (without batching dims).</summary>
public sealed record ScatterDimensionNumbers(IntList UpdateWindowDims, IntList InsertedWindowDims, IntList ScatterDimsToOperandDims)
{
    public ScatterDimensionNumbers(int[] updateWindowDims, int[] insertedWindowDims, int[] scatterDimsToOperandDims)
        : this(new IntList(updateWindowDims), new IntList(insertedWindowDims), new IntList(scatterDimsToOperandDims)) { }
    public override string ToString() =>
        $"ScatterDimensionNumbers(update_window_dims={UpdateWindowDims}, inserted_window_dims={InsertedWindowDims}, scatter_dims_to_operand_dims={ScatterDimsToOperandDims}, operand_batching_dims=(), scatter_indices_batching_dims=())";
}

/// <summary>Indexing primitives: gather and the scatter family (scatter, scatter-add, scatter-mul, scatter-min,
/// scatter-max) with XLA's semantics. The index vector is the last dimension of the indices array.</summary>
[PrimitiveFamily]
public static class Indexing
{
    /// <summary>gather(operand, indices)[dimension_numbers, slice_sizes, mode, fill_value].</summary>
    public static readonly Primitive Gather = new("gather", "indexing",
        (ins, p) =>
        {
            Elementwise.Check("gather", ins, 2);
            var (x, idx) = (ins[0], ins[1]);
            var dn = p.Get<GatherDimensionNumbers>("dimension_numbers");
            var sizes = p.Ints("slice_sizes");
            if (!idx.DType.IsInteger()) throw new DTypeError($"gather indices must be integers, got {idx.DType.Name()}");
            if (idx.Rank < 1) throw new ShapeError("gather indices need a trailing index-vector dimension");
            int k = idx.Shape[^1];
            if (k != dn.StartIndexMap.Count) throw new ShapeError($"gather: index vector length {k} differs from start_index_map {dn.StartIndexMap}");
            if (sizes.Length != x.Rank) throw new ShapeError($"gather: slice_sizes {ShapeOps.Fmt(sizes)} must have one entry per operand dim (shape {x.Shape})");
            ShapeOps.CheckAxes("gather start_index_map", dn.StartIndexMap.ToArray(), x.Rank);
            ShapeOps.CheckAxes("gather collapsed_slice_dims", dn.CollapsedSliceDims.ToArray(), x.Rank);
            for (int i = 0; i < x.Rank; i++)
                if (sizes[i] < 0 || sizes[i] > x.Shape[i]) throw new JxIndexError($"gather: slice size {sizes[i]} does not fit dim {i} of operand shape {x.Shape}");
            foreach (var c in dn.CollapsedSliceDims)
                if (sizes[c] != 1) throw new ShapeError($"gather: collapsed dim {c} must have slice size 1, got {sizes[c]}");
            var offsetSizes = Enumerable.Range(0, x.Rank).Where(i => !dn.CollapsedSliceDims.Contains(i)).Select(i => sizes[i]).ToArray();
            if (offsetSizes.Length != dn.OffsetDims.Count) throw new ShapeError($"gather: offset_dims {dn.OffsetDims} must name {offsetSizes.Length} output dims");
            int outRank = idx.Rank - 1 + offsetSizes.Length;
            ShapeOps.CheckAxes("gather offset_dims", dn.OffsetDims.ToArray(), outRank);
            var shape = new int[outRank];
            int bi = 0, oi = 0;
            for (int d = 0; d < outRank; d++)
                shape[d] = dn.OffsetDims.Contains(d) ? offsetSizes[oi++] : idx.Shape[bi++];
            return [new Aval(new Shape(shape), x.DType, x.Weak)];
        },
        (xs, p, o) => [GatherKernel(xs[0], xs[1], p, o[0])]);

    private static GatherScatterMode Mode(Params p) => p.Has("mode") ? p.Get<GatherScatterMode>("mode") : GatherScatterMode.Clip;

    private static Tensor GatherKernel(Tensor x, Tensor idx, Params p, Aval o)
    {
        var dn = p.Get<GatherDimensionNumbers>("dimension_numbers");
        var sizes = p.Ints("slice_sizes");
        var mode = Mode(p);
        var fill = p.Has("fill_value") && p["fill_value"] is double fv ? fv : DefaultFill(x.DType);
        var indices = idx.ToDoubleArray();
        int k = idx.Shape[^1];
        int outRank = o.Rank;
        var outShape = o.Shape;
        var offsetOperandDims = Enumerable.Range(0, x.Rank).Where(i => !dn.CollapsedSliceDims.Contains(i)).ToArray();
        var batchOutDims = Enumerable.Range(0, outRank).Where(d => !dn.OffsetDims.Contains(d)).ToArray();
        var xst = x.Shape.Strides();
        int n = outShape.Size;
        var srcIndex = new int[n]; // -1 = fill
        var outIdx = new int[outRank];
        var start = new int[x.Rank];
        var batchStrides = KernelUtil.StridesOf(idx.Shape.Dims[..^1]);
        for (int flat = 0; flat < n; flat++)
        {
            int b = 0;
            for (int j = 0; j < batchOutDims.Length; j++) b += outIdx[batchOutDims[j]] * batchStrides[j];
            Array.Clear(start);
            bool oob = false;
            for (int c = 0; c < k; c++)
            {
                int dim = dn.StartIndexMap[c];
                long s = (long)indices[b * k + c];
                long maxStart = x.Shape[dim] - sizes[dim];
                if (s < 0 || s > maxStart) { if (mode == GatherScatterMode.FillOrDrop) oob = true; s = Math.Clamp(s, 0, maxStart); }
                start[dim] = (int)s;
            }
            if (oob) srcIndex[flat] = -1;
            else
            {
                int off = 0;
                for (int d = 0; d < x.Rank; d++) off += start[d] * xst[d];
                for (int j = 0; j < offsetOperandDims.Length; j++) off += outIdx[dn.OffsetDims[j]] * xst[offsetOperandDims[j]];
                srcIndex[flat] = off;
            }
            for (int d = outRank - 1; d >= 0; d--) { if (++outIdx[d] < outShape[d]) break; outIdx[d] = 0; }
        }
        var arr = KernelUtil.Visit(x.Buffer!, new TakeFunc(srcIndex, fill));
        return KernelUtil.Wrap(arr, o, x.Buffer!.Device);
    }

    /// <summary>JAX's default gather fill: NaN for floats, the minimum for signed ints, the maximum for unsigned, true for bool.</summary>
    internal static double DefaultFill(DType d) => d switch
    {
        DType.Bool => 1,
        DType.Int32 => int.MinValue,
        DType.Int64 => long.MinValue,
        DType.UInt32 => uint.MaxValue,
        _ => double.NaN,
    };

    private sealed class TakeFunc(int[] srcIndex, double fill) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] src) where T : unmanaged
        {
            var dst = new T[srcIndex.Length];
            T fillValue = FromDouble<T>(fill);
            for (int i = 0; i < dst.Length; i++) dst[i] = srcIndex[i] < 0 ? fillValue : src[srcIndex[i]];
            return dst;
        }
    }

    internal static T FromDouble<T>(double v) where T : unmanaged
    {
        object r = typeof(T) == typeof(float) ? (float)v : typeof(T) == typeof(double) ? v : typeof(T) == typeof(int) ? (int)Math.Clamp(v, int.MinValue, int.MaxValue)
            : typeof(T) == typeof(long) ? (long)Math.Clamp(v, long.MinValue, long.MaxValue) : typeof(T) == typeof(uint) ? (uint)Math.Clamp(v, 0, uint.MaxValue)
            : typeof(T) == typeof(bool) ? v != 0 : typeof(T) == typeof(Half) ? (Half)v : (object)(BFloat16)v;
        return (T)r;
    }

    internal enum ScatterKind { Replace, Add, Mul, Min, Max }

    private static Primitive Scatter(string name, ScatterKind kind) => new(
        name, "indexing",
        (ins, p) =>
        {
            Elementwise.Check(name, ins, 3);
            var (x, idx, u) = (ins[0], ins[1], ins[2]);
            var dn = p.Get<ScatterDimensionNumbers>("dimension_numbers");
            if (!idx.DType.IsInteger()) throw new DTypeError($"{name} indices must be integers, got {idx.DType.Name()}");
            if (u.DType != x.DType) throw new DTypeError($"{name}: updates dtype {u.DType.Name()} differs from operand dtype {x.DType.Name()}");
            if (idx.Rank < 1) throw new ShapeError($"{name} indices need a trailing index-vector dimension");
            int k = idx.Shape[^1];
            if (k != dn.ScatterDimsToOperandDims.Count) throw new ShapeError($"{name}: index vector length {k} differs from scatter_dims_to_operand_dims {dn.ScatterDimsToOperandDims}");
            ShapeOps.CheckAxes(name, dn.UpdateWindowDims.ToArray(), u.Rank);
            ShapeOps.CheckAxes(name, dn.InsertedWindowDims.ToArray(), x.Rank);
            var windowOperandDims = Enumerable.Range(0, x.Rank).Where(i => !dn.InsertedWindowDims.Contains(i)).ToArray();
            if (windowOperandDims.Length != dn.UpdateWindowDims.Count)
                throw new ShapeError($"{name}: update_window_dims {dn.UpdateWindowDims} must cover the {windowOperandDims.Length} operand dims not in inserted_window_dims {dn.InsertedWindowDims}");
            var scatterDims = Enumerable.Range(0, u.Rank).Where(d => !dn.UpdateWindowDims.Contains(d)).ToArray();
            if (scatterDims.Length != idx.Rank - 1 || scatterDims.Select((d, i) => u.Shape[d] != idx.Shape[i]).Any(b => b))
                throw new ShapeError($"{name}: updates shape {u.Shape} does not match indices shape {idx.Shape} (scatter dims) and operand {x.Shape}");
            for (int i = 0; i < windowOperandDims.Length; i++)
                if (u.Shape[dn.UpdateWindowDims[i]] > x.Shape[windowOperandDims[i]])
                    throw new ShapeError($"{name}: update window dim {dn.UpdateWindowDims[i]} of size {u.Shape[dn.UpdateWindowDims[i]]} exceeds operand dim {windowOperandDims[i]} of {x.Shape}");
            return [x];
        },
        (xs, p, o) => [ScatterKernel(xs[0], xs[1], xs[2], p, kind, o[0])]);

    public static readonly Primitive ScatterReplace = Scatter("scatter", ScatterKind.Replace);
    public static readonly Primitive ScatterAdd = Scatter("scatter-add", ScatterKind.Add);
    public static readonly Primitive ScatterMul = Scatter("scatter-mul", ScatterKind.Mul);
    public static readonly Primitive ScatterMin = Scatter("scatter-min", ScatterKind.Min);
    public static readonly Primitive ScatterMax = Scatter("scatter-max", ScatterKind.Max);

    private static Tensor ScatterKernel(Tensor x, Tensor idx, Tensor u, Params p, ScatterKind kind, Aval o)
    {
        var dn = p.Get<ScatterDimensionNumbers>("dimension_numbers");
        var mode = p.Has("mode") ? p.Get<GatherScatterMode>("mode") : GatherScatterMode.FillOrDrop;
        var indices = idx.ToDoubleArray();
        int k = idx.Shape[^1];
        var windowOperandDims = Enumerable.Range(0, x.Rank).Where(i => !dn.InsertedWindowDims.Contains(i)).ToArray();
        var scatterDims = Enumerable.Range(0, u.Rank).Where(d => !dn.UpdateWindowDims.Contains(d)).ToArray();
        var xst = x.Shape.Strides();
        var batchStrides = KernelUtil.StridesOf(idx.Shape.Dims[..^1]);
        var windowSize = new int[x.Rank];
        for (int d = 0; d < x.Rank; d++) windowSize[d] = 1;
        for (int i = 0; i < windowOperandDims.Length; i++) windowSize[windowOperandDims[i]] = u.Shape[dn.UpdateWindowDims[i]];
        var dest = new int[u.Size]; // -1 = dropped
        var uIdx = new int[u.Rank];
        var start = new int[x.Rank];
        for (int flat = 0; flat < u.Size; flat++)
        {
            int b = 0;
            for (int j = 0; j < scatterDims.Length; j++) b += uIdx[scatterDims[j]] * batchStrides[j];
            Array.Clear(start);
            bool drop = false;
            for (int c = 0; c < k; c++)
            {
                int dim = dn.ScatterDimsToOperandDims[c];
                long s = (long)indices[b * k + c];
                long maxStart = x.Shape[dim] - windowSize[dim];
                if (s < 0 || s > maxStart) { if (mode == GatherScatterMode.FillOrDrop) drop = true; s = Math.Clamp(s, 0, Math.Max(0, maxStart)); }
                start[dim] = (int)s;
            }
            if (drop) dest[flat] = -1;
            else
            {
                int off = 0;
                for (int d = 0; d < x.Rank; d++) off += start[d] * xst[d];
                for (int j = 0; j < windowOperandDims.Length; j++) off += uIdx[dn.UpdateWindowDims[j]] * xst[windowOperandDims[j]];
                dest[flat] = off;
            }
            for (int d = u.Rank - 1; d >= 0; d--) { if (++uIdx[d] < u.Shape[d]) break; uIdx[d] = 0; }
        }
        var arr = KernelUtil.Visit(x.Buffer!, new ScatterFunc(dest, u.Buffer!, kind));
        return KernelUtil.Wrap(arr, o, x.Buffer!.Device);
    }

    private sealed class ScatterFunc(int[] dest, Buffer updates, ScatterKind kind) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] src) where T : unmanaged
        {
            var dst = (T[])src.Clone();
            var upd = updates.Array<T>();
            for (int i = 0; i < dest.Length; i++)
            {
                int d = dest[i];
                if (d < 0) continue;
                dst[d] = kind == ScatterKind.Replace ? upd[i] : Combine(dst[d], upd[i], kind);
            }
            return dst;
        }
    }

    private static T Combine<T>(T a, T b, ScatterKind kind) where T : unmanaged
    {
        switch (a)
        {
            case float fa: { float fb = (float)(object)b; return (T)(object)(kind switch { ScatterKind.Add => fa + fb, ScatterKind.Mul => fa * fb, ScatterKind.Min => float.IsNaN(fa) || float.IsNaN(fb) ? float.NaN : Math.Min(fa, fb), _ => float.IsNaN(fa) || float.IsNaN(fb) ? float.NaN : Math.Max(fa, fb) }); }
            case double da: { double db = (double)(object)b; return (T)(object)(kind switch { ScatterKind.Add => da + db, ScatterKind.Mul => da * db, ScatterKind.Min => double.IsNaN(da) || double.IsNaN(db) ? double.NaN : Math.Min(da, db), _ => double.IsNaN(da) || double.IsNaN(db) ? double.NaN : Math.Max(da, db) }); }
            case int ia: { int ib = (int)(object)b; return (T)(object)(kind switch { ScatterKind.Add => unchecked(ia + ib), ScatterKind.Mul => unchecked(ia * ib), ScatterKind.Min => Math.Min(ia, ib), _ => Math.Max(ia, ib) }); }
            case long la: { long lb = (long)(object)b; return (T)(object)(kind switch { ScatterKind.Add => unchecked(la + lb), ScatterKind.Mul => unchecked(la * lb), ScatterKind.Min => Math.Min(la, lb), _ => Math.Max(la, lb) }); }
            case uint ua: { uint ub = (uint)(object)b; return (T)(object)(kind switch { ScatterKind.Add => unchecked(ua + ub), ScatterKind.Mul => unchecked(ua * ub), ScatterKind.Min => Math.Min(ua, ub), _ => Math.Max(ua, ub) }); }
            case bool ba: { bool bb = (bool)(object)b; return (T)(object)(kind switch { ScatterKind.Add or ScatterKind.Max => ba | bb, _ => ba & bb }); }
            case Half ha: { float r = Combine((float)ha, (float)(Half)(object)b, kind); return (T)(object)(Half)r; }
            case BFloat16 ha: { float r = Combine((float)ha, (float)(BFloat16)(object)b, kind); return (T)(object)(BFloat16)r; }
            default: throw new InvalidOperationException();
        }
    }
}
