namespace Jx;

public static partial class Lax
{
    /// <summary>Sorts x along <paramref name="dimension"/> in ascending order (lax.sort with one operand). Floats follow
    /// JAX's order: NaNs of either sign last, -0.0 equal to 0.0.</summary>
    /// <example><code>var y = Lax.Sort(Np.Array(new[] { 3f, float.NaN, -1f })); // [-1, 3, NaN]</code></example>
    public static Tensor Sort(Tensor x, int dimension = -1, bool isStable = true) => Sort([x], dimension, 1, isStable)[0];

    /// <summary>Sorts several operands of one shape together along <paramref name="dimension"/>, ordered
    /// lexicographically by the first <paramref name="numKeys"/> of them (lax.sort). Returns the sorted operands in
    /// their order.</summary>
    /// <example><code>
    /// var outs = Lax.Sort([primary, secondary, payload], dimension: 0, numKeys: 2);
    /// </code></example>
    public static Tensor[] Sort(Tensor[] operands, int dimension, int numKeys = 1, bool isStable = true)
    {
        if (operands.Length == 0) throw new InvalidArgumentError("Lax.Sort needs at least one operand");
        int rank = operands[0].Rank;
        int d = dimension < 0 && rank > 0 ? dimension + rank : dimension;
        return Sorting.Sort.Bind(operands, Params.Of(("dimension", d), ("is_stable", isStable), ("num_keys", numKeys)));
    }

    /// <summary>Sorts <paramref name="keys"/> along <paramref name="dimension"/> and permutes
    /// <paramref name="values"/> (of the same shape) the same way (lax.sort_key_val).</summary>
    /// <example><code>var (k, v) = Lax.SortKeyVal(Np.Array(new[] { 2, 0, 1 }), Np.Array(new[] { 10f, 20f, 30f })); // v = [20, 30, 10]</code></example>
    public static (Tensor Keys, Tensor Values) SortKeyVal(Tensor keys, Tensor values, int dimension = -1, bool isStable = true)
    {
        var r = Sort([keys, values], dimension, 1, isStable);
        return (r[0], r[1]);
    }

    /// <summary>The <paramref name="k"/> largest entries along the last axis, in descending order, and their int32
    /// indices (lax.top_k). Ties go to the lower index first.</summary>
    /// <example><code>var (vals, idx) = Lax.TopK(Np.Array(new[] { 1f, 3f, 3f, 2f }), 2); // vals = [3, 3], idx = [1, 2]</code></example>
    public static (Tensor Values, Tensor Indices) TopK(Tensor x, int k)
    {
        var r = Sorting.TopK.Bind([x], Params.Of(("k", k)));
        return (r[0], r[1]);
    }
}
