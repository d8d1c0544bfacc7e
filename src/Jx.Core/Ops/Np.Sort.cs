namespace Jx;

public static partial class Np
{
    /// <summary>A sorted copy of x along <paramref name="axis"/> (of the flattened array when axis is null), ascending
    /// unless <paramref name="descending"/> (jnp.sort). NaNs sort to the end.</summary>
    /// <example><code>var s = Np.Sort(Np.Array(new[,] { { 3, 1 }, { 0, 2 } }), axis: 0); // [[0, 1], [3, 2]]</code></example>
    public static Tensor Sort(Tensor x, int? axis = -1, bool descending = false)
    {
        if (axis is null) { x = Ravel(x); axis = 0; }
        int a = NormalizeAxis(axis.Value, x.Rank, "Sort");
        var r = Lax.Sort(x, a);
        return descending ? Lax.Rev(r, [a]) : r;
    }

    /// <summary>The int32 indices that sort x along <paramref name="axis"/> (of the flattened array when axis is null)
    /// (jnp.argsort). The sort is stable: equal elements keep their order, also when <paramref name="descending"/>.</summary>
    /// <example><code>var i = Np.Argsort(Np.Array(new[] { 3f, 1f, 2f })); // [1, 2, 0]</code></example>
    public static Tensor Argsort(Tensor x, int? axis = -1, bool descending = false)
    {
        if (axis is null) { x = Ravel(x); axis = 0; }
        int a = NormalizeAxis(axis.Value, x.Rank, "Argsort");
        var iota = Lax.BroadcastedIota(DType.Int32, x.Shape, a);
        if (descending)
        {
            // Reversing first keeps equal elements in their original order once the indices are reversed back.
            var (_, idx) = Lax.SortKeyVal(Lax.Rev(x, [a]), Lax.Rev(iota, [a]), a);
            return Lax.Rev(idx, [a]);
        }
        return Lax.SortKeyVal(x, iota, a).Values;
    }
}
