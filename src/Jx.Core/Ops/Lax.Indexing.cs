namespace Jx;

public static partial class Lax
{
    /// <summary>XLA gather: see <see cref="GatherDimensionNumbers"/>. <paramref name="fillValue"/> is used in FillOrDrop mode
    /// (default NaN for floats).</summary>
    public static Tensor Gather(Tensor operand, Tensor indices, GatherDimensionNumbers dimensionNumbers, int[] sliceSizes,
        GatherScatterMode mode = GatherScatterMode.Clip, double? fillValue = null) =>
        Indexing.Gather.Bind1([operand, indices], Params.Of(("dimension_numbers", dimensionNumbers), ("slice_sizes", sliceSizes),
            ("indices_are_sorted", false), ("unique_indices", false), ("mode", mode), ("fill_value", fillValue)));

    private static Params ScatterParams(ScatterDimensionNumbers dn, GatherScatterMode mode) =>
        Params.Of(("dimension_numbers", dn), ("indices_are_sorted", false), ("unique_indices", false), ("mode", mode), ("update_jaxpr", null), ("update_consts", null));

    /// <summary>XLA scatter (replace): updates overwrite the addressed slices; out-of-bounds updates are dropped by default.</summary>
    public static Tensor Scatter(Tensor operand, Tensor indices, Tensor updates, ScatterDimensionNumbers dn, GatherScatterMode mode = GatherScatterMode.FillOrDrop) =>
        Indexing.ScatterReplace.Bind1([operand, indices, updates], ScatterParams(dn, mode));
    public static Tensor ScatterAdd(Tensor operand, Tensor indices, Tensor updates, ScatterDimensionNumbers dn, GatherScatterMode mode = GatherScatterMode.FillOrDrop) =>
        Indexing.ScatterAdd.Bind1([operand, indices, updates], ScatterParams(dn, mode));
    public static Tensor ScatterMul(Tensor operand, Tensor indices, Tensor updates, ScatterDimensionNumbers dn, GatherScatterMode mode = GatherScatterMode.FillOrDrop) =>
        Indexing.ScatterMul.Bind1([operand, indices, updates], ScatterParams(dn, mode));
    public static Tensor ScatterMin(Tensor operand, Tensor indices, Tensor updates, ScatterDimensionNumbers dn, GatherScatterMode mode = GatherScatterMode.FillOrDrop) =>
        Indexing.ScatterMin.Bind1([operand, indices, updates], ScatterParams(dn, mode));
    public static Tensor ScatterMax(Tensor operand, Tensor indices, Tensor updates, ScatterDimensionNumbers dn, GatherScatterMode mode = GatherScatterMode.FillOrDrop) =>
        Indexing.ScatterMax.Bind1([operand, indices, updates], ScatterParams(dn, mode));
}

public static partial class Np
{
    /// <summary>Elements of x at integer indices along axis (the flattened array when axis is null). Out-of-range
    /// indices read NaN (ints: the minimum) as jnp.take's default "fill" mode; negative indices count from the end.</summary>
    public static Tensor Take(Tensor x, Tensor indices, int? axis = null)
    {
        if (axis is null) { x = Ravel(x); axis = 0; }
        int a = NormalizeAxis(axis.Value, x.Rank, "Take");
        var idx = NormalizeIndices(indices, x.Shape[a]);
        var sizes = x.Shape.ToArray();
        sizes[a] = 1;
        var offsetDims = Enumerable.Range(0, x.Rank - 1).Select(d => d < a ? d : d + idx.Rank).ToArray();
        return Lax.Gather(x, Lax.ExpandDims(idx, [idx.Rank]), new GatherDimensionNumbers(offsetDims, [a], [a]), sizes, GatherScatterMode.FillOrDrop);
    }

    /// <summary>Picks values along axis with an index array of x's rank (broadcast on the other axes), as
    /// jnp.take_along_axis.</summary>
    public static Tensor TakeAlongAxis(Tensor x, Tensor indices, int axis)
    {
        int a = NormalizeAxis(axis, x.Rank, "TakeAlongAxis");
        if (indices.Rank != x.Rank) throw new ShapeError($"TakeAlongAxis: indices of rank {indices.Rank} must have the array's rank {x.Rank}");
        var idx = NormalizeIndices(indices, x.Shape[a]);
        // Broadcast the non-axis dims of x and the indices together.
        var xs = x.Shape.ToArray(); xs[a] = 1;
        var ishape = idx.Shape.ToArray(); ishape[a] = 1;
        var common = BroadcastShapes(new Shape(xs), new Shape(ishape)).ToArray();
        var xt = BroadcastTo(x, new Shape(common.Select((d, i) => i == a ? x.Shape[a] : d).ToArray()));
        var it = BroadcastTo(idx, new Shape(common.Select((d, i) => i == a ? idx.Shape[a] : d).ToArray()));
        // Full coordinates for every output element: iotas on the other axes, the indices on this one.
        var coords = Enumerable.Range(0, x.Rank).Select(d => d == a ? it : Lax.BroadcastedIota(DType.Int32, it.Shape, d)).Select(c => Lax.ExpandDims(c, [c.Rank])).ToArray();
        var full = Lax.Concatenate(coords, x.Rank);
        return Lax.Gather(xt, full, new GatherDimensionNumbers([], Enumerable.Range(0, x.Rank).ToArray(), Enumerable.Range(0, x.Rank).ToArray()),
            Enumerable.Repeat(1, x.Rank).ToArray(), GatherScatterMode.FillOrDrop);
    }

    /// <summary>int32 indices with negative values counted from the end of a dimension of size n.</summary>
    internal static Tensor NormalizeIndices(Tensor indices, int n)
    {
        if (!indices.DType.IsInteger()) throw new DTypeError($"indices must be integers, got {indices.DType.Name()}");
        var i = Lax.ConvertElementType(indices, DType.Int32);
        if (indices.DType.IsUnsigned()) return i;
        var zero = Full(i.Shape, 0, DType.Int32);
        return Lax.Select(Lax.Lt(i, zero), Lax.Add(i, Full(i.Shape, n, DType.Int32)), i);
    }
}
