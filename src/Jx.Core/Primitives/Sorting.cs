namespace Jx;

/// <summary>Sorting primitives: <c>sort</c> (lax.sort: several operands sorted together along one dimension by the
/// first <c>num_keys</c> of them) and <c>top_k</c> (lax.top_k: the k largest entries of the last axis and their
/// indices). Both have several results.</summary>
/// <example><code>
/// var (keys, vals) = Lax.SortKeyVal(Np.Array(new[] { 3f, 1f, 2f }), Np.Array(new[] { 0, 1, 2 }));
/// // keys = [1, 2, 3], vals = [1, 2, 0]
/// var (top, idx) = Lax.TopK(Np.Array(new[] { 1f, 5f, 3f }), 2); // top = [5, 3], idx = [1, 2]
/// </code></example>
[PrimitiveFamily]
public static class Sorting
{
    /// <summary>sort[dimension, is_stable, num_keys](*operands): every operand has the same shape (dtypes may differ);
    /// all are permuted together along <c>dimension</c> so that the first <c>num_keys</c> operands are in ascending
    /// lexicographic order. Floats use JAX's sort order: -0.0 and 0.0 compare equal and every NaN (of either sign) sorts
    /// after +inf. The eager kernel is always stable, so <c>is_stable=False</c> gives the same result.</summary>
    public static readonly Primitive Sort = new("sort", "sorting", SortAbstractEval, SortKernel, multipleResults: true);

    /// <summary>top_k[k](operand): the k largest entries along the last axis in descending order, and their int32
    /// indices. Ties go to the lower index first; floats use the IEEE total order
    /// (-NaN &lt; -inf &lt; ... &lt; -0.0 &lt; 0.0 &lt; ... &lt; inf &lt; NaN), as XLA's TopK does.</summary>
    public static readonly Primitive TopK = new("top_k", "sorting", TopKAbstractEval, TopKKernel, multipleResults: true);

    private static Aval[] SortAbstractEval(Aval[] ins, Params p)
    {
        if (ins.Length == 0) throw new InvalidArgumentError("'sort' needs at least one operand");
        var shape = ins[0].Shape;
        for (int i = 1; i < ins.Length; i++)
            if (ins[i].Shape != shape)
                throw new ShapeError($"'sort' requires all operands to have the same shape, got {string.Join(", ", ins.Select(a => a.Shape.ToString()))}; broadcast them first (Np.BroadcastArrays)");
        int dim = p.Int("dimension");
        if (shape.Rank == 0) throw new AxisError("'sort' needs operands of rank >= 1, got a scalar; reshape it to (1,) first");
        if (dim < 0 || dim >= shape.Rank)
            throw new AxisError($"'sort': dimension {dim} is out of range for operands of shape {shape} (rank {shape.Rank})");
        int numKeys = p.Int("num_keys");
        if (numKeys < 1 || numKeys > ins.Length)
            throw new InvalidArgumentError($"'sort': num_keys must be between 1 and the number of operands ({ins.Length}), got {numKeys}");
        return ins.ToArray();
    }

    private static Aval[] TopKAbstractEval(Aval[] ins, Params p)
    {
        Elementwise.Check("top_k", ins, 1);
        var x = ins[0];
        int k = p.Int("k");
        if (x.Rank == 0) throw new ShapeError("'top_k' needs an operand of rank >= 1 (it works along the last axis), got a scalar");
        if (k < 0) throw new InvalidArgumentError($"'top_k': k must be non-negative, got {k}");
        int n = x.Shape[x.Rank - 1];
        if (k > n) throw new InvalidArgumentError($"'top_k': k={k} is larger than the last axis of the operand (shape {x.Shape}); use k <= {n}");
        var dims = x.Shape.ToArray();
        dims[^1] = k;
        var outShape = new Shape(dims);
        return [x with { Shape = outShape }, new Aval(outShape, DType.Int32)];
    }

    private static Tensor[] SortKernel(Tensor[] xs, Params p, Aval[] o)
    {
        int dim = p.Int("dimension");
        int numKeys = p.Int("num_keys");
        var shape = o[0].Shape;
        int n = shape[dim];
        int inner = 1;
        for (int i = dim + 1; i < shape.Rank; i++) inner *= shape[i];
        int size = shape.Size;
        var device = xs[0].Buffer!.Device;
        var perm = new int[size];
        if (size > 0)
        {
            var keys = new long[numKeys][];
            for (int k = 0; k < numKeys; k++) keys[k] = OrderKeys(xs[k].Buffer!, totalOrder: false);
            int lines = size / n;
            KernelUtil.For(lines, (l0, l1) =>
            {
                var idx = new int[n];
                int start = 0;
                Comparison<int> cmp = (a, b) =>
                {
                    for (int k = 0; k < keys.Length; k++)
                    {
                        int c = keys[k][start + a * inner].CompareTo(keys[k][start + b * inner]);
                        if (c != 0) return c;
                    }
                    return a.CompareTo(b); // stability: equal keys keep their order
                };
                for (int line = l0; line < l1; line++)
                {
                    start = line / inner * n * inner + line % inner;
                    for (int j = 0; j < n; j++) idx[j] = j;
                    idx.AsSpan().Sort(cmp);
                    for (int j = 0; j < n; j++) perm[start + j * inner] = start + idx[j] * inner;
                }
            }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, n)));
        }
        var outs = new Tensor[xs.Length];
        for (int i = 0; i < xs.Length; i++)
            outs[i] = KernelUtil.Wrap(KernelUtil.Visit(xs[i].Buffer!, new GatherFunc(perm)), o[i], device);
        return outs;
    }

    private static Tensor[] TopKKernel(Tensor[] xs, Params p, Aval[] o)
    {
        var b = xs[0].Buffer!;
        int k = p.Int("k");
        var inShape = xs[0].Shape;
        int n = inShape[inShape.Rank - 1];
        int lines = 1;
        for (int i = 0; i < inShape.Rank - 1; i++) lines *= inShape[i];
        var perm = new int[lines * k];
        var indices = new int[lines * k];
        if (perm.Length > 0)
        {
            var keys = OrderKeys(b, totalOrder: true);
            KernelUtil.For(lines, (l0, l1) =>
            {
                var idx = new int[n];
                int start = 0;
                Comparison<int> cmp = (x, y) =>
                {
                    int c = keys[start + y].CompareTo(keys[start + x]); // descending
                    return c != 0 ? c : x.CompareTo(y);                 // ties: lower index first
                };
                for (int line = l0; line < l1; line++)
                {
                    start = line * n;
                    for (int j = 0; j < n; j++) idx[j] = j;
                    idx.AsSpan().Sort(cmp);
                    for (int j = 0; j < k; j++)
                    {
                        perm[line * k + j] = start + idx[j];
                        indices[line * k + j] = idx[j];
                    }
                }
            }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, n)));
        }
        var values = KernelUtil.Wrap(KernelUtil.Visit(b, new GatherFunc(perm)), o[0], b.Device);
        return [values, KernelUtil.Wrap(indices, o[1], b.Device)];
    }

    /// <summary>dst[i] = src[perm[i]].</summary>
    private sealed class GatherFunc(int[] perm) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] src) where T : unmanaged
        {
            var dst = new T[perm.Length];
            for (int i = 0; i < dst.Length; i++) dst[i] = src[perm[i]];
            return dst;
        }
    }

    /// <summary>Integers whose order is the comparison order of the elements. Floats map through their bits as
    /// lax's <c>_float_to_int_for_sort</c> does: with <paramref name="totalOrder"/> false, zeros are standardized to +0
    /// and NaNs to +NaN first (so -0 == 0 and every NaN sorts last); with it true the IEEE total order is kept.</summary>
    internal static long[] OrderKeys(Buffer b, bool totalOrder)
    {
        int len = b.Length;
        var r = new long[len];
        switch (b.DType)
        {
            case DType.Float64:
            {
                var s = b.Array<double>();
                for (int i = 0; i < len; i++) r[i] = DoubleKey(s[i], totalOrder);
                break;
            }
            case DType.Float32:
            {
                var s = b.Array<float>();
                for (int i = 0; i < len; i++) r[i] = FloatKey(s[i], totalOrder);
                break;
            }
            case DType.Float16:
            case DType.BFloat16:
            {
                var s = ElementwiseEngine.ToFloat(b);
                for (int i = 0; i < len; i++) r[i] = FloatKey(s[i], totalOrder);
                break;
            }
            case DType.Int32: { var s = b.Array<int>(); for (int i = 0; i < len; i++) r[i] = s[i]; break; }
            case DType.Int64: { var s = b.Array<long>(); for (int i = 0; i < len; i++) r[i] = s[i]; break; }
            case DType.UInt32: { var s = b.Array<uint>(); for (int i = 0; i < len; i++) r[i] = s[i]; break; }
            case DType.Bool: { var s = b.Array<bool>(); for (int i = 0; i < len; i++) r[i] = s[i] ? 1 : 0; break; }
            default: throw new InvalidOperationException();
        }
        return r;
    }

    private static long FloatKey(float f, bool totalOrder)
    {
        int bits = BitConverter.SingleToInt32Bits(f);
        if (!totalOrder)
        {
            if (f == 0) bits = 0;
            else if (float.IsNaN(f)) bits = 0x7FC00000;
        }
        return bits < 0 ? unchecked((int)(0x7FFFFFFFu - (uint)bits)) : bits;
    }

    private static long DoubleKey(double d, bool totalOrder)
    {
        long bits = BitConverter.DoubleToInt64Bits(d);
        if (!totalOrder)
        {
            if (d == 0) bits = 0;
            else if (double.IsNaN(d)) bits = 0x7FF8000000000000L;
        }
        return bits < 0 ? unchecked((long)(0x7FFFFFFFFFFFFFFFUL - (ulong)bits)) : bits;
    }
}
