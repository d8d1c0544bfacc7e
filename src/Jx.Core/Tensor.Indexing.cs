namespace Jx;

/// <summary>One item of a tensor index: an integer, a C# Index or Range, a stepped slice, a tensor of integer indices
/// (gather), <see cref="NewAxis"/> or <see cref="Ellipsis"/>. Converts implicitly, so <c>x[1]</c>, <c>x[.., 1..3]</c>,
/// <c>x[^1]</c> and <c>x[idx]</c> all work.</summary>
public readonly struct TensorIndex
{
    internal enum Kind { Int, Range, Slice, Tensor, NewAxis, Ellipsis }
    internal Kind K { get; }
    internal Index Idx { get; }
    internal Range Rng { get; }
    internal (int? Start, int? Stop, int Step) SliceSpec { get; }
    internal Tensor? Array { get; }

    private TensorIndex(Kind k, Index idx = default, Range rng = default, (int?, int?, int) slice = default, Tensor? array = null)
    {
        K = k; Idx = idx; Rng = rng; SliceSpec = slice; Array = array;
    }

    public static implicit operator TensorIndex(int i) => new(Kind.Int, idx: i < 0 ? Index.FromEnd(-i) : Index.FromStart(i));
    public static implicit operator TensorIndex(Index i) => new(Kind.Int, idx: i);
    public static implicit operator TensorIndex(Range r) => new(Kind.Range, rng: r);
    public static implicit operator TensorIndex(Tensor t) => new(Kind.Tensor, array: t);
    public static implicit operator TensorIndex(int[] t) => new(Kind.Tensor, array: Tensor.FromArray(t));

    /// <summary>A Python-style slice start:stop:step (negative values count from the end; negative step reverses).</summary>
    public static TensorIndex Slice(int? start, int? stop, int step = 1)
    {
        if (step == 0) throw new InvalidArgumentError("slice step cannot be zero");
        return new(Kind.Slice, slice: (start, stop, step));
    }

    /// <summary>Inserts a new axis of size 1 (numpy's None).</summary>
    public static TensorIndex NewAxis => new(Kind.NewAxis);
    /// <summary>Stands for as many full slices as needed (numpy's ...).</summary>
    public static TensorIndex Ellipsis => new(Kind.Ellipsis);
}

public partial class Tensor
{
    /// <summary>NumPy/JAX indexing: integers and ranges slice statically (out-of-range integers raise
    /// <see cref="JxIndexError"/>; ranges clamp like Python slices); integer tensors gather (out-of-range indices are
    /// clamped, negative ones count from the end).</summary>
    /// <example><code>var row = x[1]; var block = x[.., 1..3]; var last = x[^1]; var picked = x[Np.Array(new[] { 2, 0 })];</code></example>
    [System.Runtime.CompilerServices.IndexerName("Slice")]
    public Tensor this[params TensorIndex[] index] => Indexer.Get(this, index, GatherScatterMode.Clip);

    /// <summary>Functional updates: <c>x.At[i].Set(v)</c>, <c>.Add(v)</c>, <c>.Multiply(v)</c>, <c>.Min(v)</c>, <c>.Max(v)</c>,
    /// <c>.Get()</c>. Out-of-range tensor indices are dropped, as JAX does for scatter.</summary>
    /// <example><code>var y = x.At[1].Set(0f); var z = x.At[Np.Array(new[] { 0, 0 })].Add(1f); // duplicates accumulate</code></example>
    public AtIndexer At => new(this);
}

/// <summary>The <c>x.At</c> helper: index it to get an <see cref="AtRef"/>.</summary>
public readonly struct AtIndexer(Tensor x)
{
    public AtRef this[params TensorIndex[] index] => new(x, index);
}

/// <summary>A location in a tensor for functional updates; every method returns a new tensor.</summary>
public readonly struct AtRef(Tensor x, TensorIndex[] index)
{
    public Tensor Get() => Indexer.Get(x, index, GatherScatterMode.FillOrDrop);
    public Tensor Set(Tensor v) => Indexer.Update(x, index, v, Indexing.ScatterKind.Replace);
    public Tensor Add(Tensor v) => Indexer.Update(x, index, v, Indexing.ScatterKind.Add);
    public Tensor Multiply(Tensor v) => Indexer.Update(x, index, v, Indexing.ScatterKind.Mul);
    public Tensor Min(Tensor v) => Indexer.Update(x, index, v, Indexing.ScatterKind.Min);
    public Tensor Max(Tensor v) => Indexer.Update(x, index, v, Indexing.ScatterKind.Max);
}

/// <summary>Turns index expressions into slice, squeeze, reshape and gather primitives; updates become a scatter into
/// the flattened array at the positions the same expression selects.</summary>
internal static class Indexer
{
    public static Tensor Get(Tensor x, TensorIndex[] index, GatherScatterMode mode)
    {
        var items = Expand(index, x.Rank);
        // 1. Static slicing for ints, ranges and stepped slices.
        var start = new int[x.Rank];
        var limit = x.Shape.ToArray();
        var stride = Enumerable.Repeat(1, x.Rank).ToArray();
        var reverse = new List<int>();
        var squeeze = new List<int>();
        var arrays = new List<(int Dim, Tensor T)>();
        var newAxes = new List<int>(); // positions in the result (before advanced indexing)
        int dim = 0, outPos = 0;
        foreach (var it in items)
        {
            switch (it.K)
            {
                case TensorIndex.Kind.NewAxis:
                    newAxes.Add(outPos++);
                    continue;
                case TensorIndex.Kind.Int:
                {
                    int n = x.Shape[dim];
                    int i = it.Idx.IsFromEnd ? n - it.Idx.Value : it.Idx.Value;
                    if (i < 0 || i >= n)
                        throw new JxIndexError($"index {(it.Idx.IsFromEnd ? "^" + it.Idx.Value : it.Idx.Value.ToString())} is out of bounds for axis {dim} with size {n} (shape {x.Shape})");
                    start[dim] = i; limit[dim] = i + 1;
                    squeeze.Add(dim);
                    break;
                }
                case TensorIndex.Kind.Range:
                {
                    int n = x.Shape[dim];
                    int s = Math.Clamp(it.Rng.Start.IsFromEnd ? n - it.Rng.Start.Value : it.Rng.Start.Value, 0, n);
                    int e = Math.Clamp(it.Rng.End.IsFromEnd ? n - it.Rng.End.Value : it.Rng.End.Value, 0, n);
                    start[dim] = s; limit[dim] = Math.Max(s, e);
                    outPos++;
                    break;
                }
                case TensorIndex.Kind.Slice:
                {
                    int n = x.Shape[dim];
                    var (s0, e0, step) = it.SliceSpec;
                    if (step > 0)
                    {
                        int s = Math.Clamp(s0 is int a ? (a < 0 ? a + n : a) : 0, 0, n);
                        int e = Math.Clamp(e0 is int b ? (b < 0 ? b + n : b) : n, 0, n);
                        start[dim] = s; limit[dim] = Math.Max(s, e); stride[dim] = step;
                    }
                    else
                    {
                        // Reverse, then slice with the mirrored bounds.
                        int s = s0 is int a ? Math.Clamp(a < 0 ? a + n : a, -1, n - 1) : n - 1;
                        int e = e0 is int b ? Math.Clamp(b < 0 ? b + n : b, -1, n - 1) : -1;
                        int rs = n - 1 - s, re = n - 1 - e;
                        reverse.Add(dim);
                        start[dim] = Math.Clamp(rs, 0, n); limit[dim] = Math.Clamp(Math.Max(rs, re), 0, n); stride[dim] = -step;
                    }
                    outPos++;
                    break;
                }
                case TensorIndex.Kind.Tensor:
                    arrays.Add((dim, it.Array!));
                    outPos++;
                    break;
            }
            dim++;
        }
        var r = reverse.Count > 0 ? Lax.Rev(x, reverse.ToArray()) : x;
        bool needSlice = start.Any(s => s != 0) || limit.Where((l, i) => l != r.Shape[i]).Any() || stride.Any(s => s != 1);
        if (needSlice) r = Lax.Slice(r, start, limit, stride.Any(s => s != 1) ? stride : null);
        r = Lax.Squeeze(r, squeeze.ToArray());
        // Dimension numbers after squeezing.
        int Remap(int d) => d - squeeze.Count(s => s < d);
        if (arrays.Count > 0)
        {
            if (newAxes.Count > 0) throw new JxIndexError("combining NewAxis with integer-array indices is not supported; add the axis with ExpandDims afterwards");
            r = AdvancedGather(r, arrays.Select(a => (Remap(a.Dim), a.T)).ToList(), mode);
        }
        else if (newAxes.Count > 0)
        {
            foreach (var p in newAxes) r = Lax.ExpandDims(r, [p]);
        }
        return r;
    }

    private static List<TensorIndex> Expand(TensorIndex[] index, int rank)
    {
        int ellipses = index.Count(i => i.K == TensorIndex.Kind.Ellipsis);
        if (ellipses > 1) throw new JxIndexError("an index can only have a single Ellipsis");
        int consumed = index.Count(i => i.K is not (TensorIndex.Kind.NewAxis or TensorIndex.Kind.Ellipsis));
        if (consumed > rank) throw new JxIndexError($"too many indices for an array of rank {rank}: {consumed} were given");
        var items = new List<TensorIndex>();
        foreach (var i in index)
        {
            if (i.K == TensorIndex.Kind.Ellipsis) items.AddRange(Enumerable.Repeat((TensorIndex)Range.All, rank - consumed));
            else items.Add(i);
        }
        if (ellipses == 0) items.AddRange(Enumerable.Repeat((TensorIndex)Range.All, rank - consumed));
        return items;
    }

    private static Tensor AdvancedGather(Tensor x, List<(int Dim, Tensor T)> arrays, GatherScatterMode mode)
    {
        var dims = arrays.Select(a => a.Dim).ToArray();
        var idx = arrays.Select(a => Np.NormalizeIndices(a.T, x.Shape[a.Dim])).ToArray();
        idx = Np.BroadcastArrays(idx);
        var batchShape = idx[0].Shape;
        var stacked = Lax.Concatenate(idx.Select(i => Lax.ExpandDims(i, [i.Rank])).ToArray(), batchShape.Rank);
        bool contiguous = dims.Zip(dims.Skip(1)).All(p => p.Second == p.First + 1);
        var rest = Enumerable.Range(0, x.Rank).Where(d => !dims.Contains(d)).ToArray();
        // NumPy places the broadcast index dims where the (adjacent) indexed dims were, else first.
        var offsetDims = contiguous
            ? rest.Select(d => d < dims[0] ? d : d - dims.Length + batchShape.Rank).ToArray()
            : rest.Select((d, i) => batchShape.Rank + i).ToArray();
        var sizes = x.Shape.ToArray();
        foreach (var d in dims) sizes[d] = 1;
        return Lax.Gather(x, stacked, new GatherDimensionNumbers(offsetDims, dims, dims), sizes, mode);
    }

    public static Tensor Update(Tensor x, TensorIndex[] index, Tensor v, Indexing.ScatterKind kind)
    {
        // Positions of the selected elements in the flattened array; out-of-range tensor indices select x.Size (dropped).
        var iota = Lax.Reshape(Lax.Iota(DType.Int32, x.Size), x.Shape);
        var positions = GetPositions(iota, index, x.Size);
        var flat = Lax.Reshape(x, new Shape(x.Size));
        var (vd, vw) = (x.DType, x.WeakType);
        var upd = Np.BroadcastTo(Lax.ConvertElementType(v, vd, vw), positions.Shape);
        var idx = Lax.Reshape(positions, new Shape(positions.Size, 1));
        var updates = Lax.Reshape(upd, new Shape(positions.Size));
        var dn = new ScatterDimensionNumbers([], [0], [0]);
        var r = kind switch
        {
            Indexing.ScatterKind.Replace => Lax.Scatter(flat, idx, updates, dn),
            Indexing.ScatterKind.Add => Lax.ScatterAdd(flat, idx, updates, dn),
            Indexing.ScatterKind.Mul => Lax.ScatterMul(flat, idx, updates, dn),
            Indexing.ScatterKind.Min => Lax.ScatterMin(flat, idx, updates, dn),
            _ => Lax.ScatterMax(flat, idx, updates, dn),
        };
        return Lax.Reshape(r, x.Shape);
    }

    // A gather in fill mode: out-of-range tensor indices yield int.MinValue, which the scatter then drops.
    private static Tensor GetPositions(Tensor iota, TensorIndex[] index, int size) => Get(iota, index, GatherScatterMode.FillOrDrop);
}
