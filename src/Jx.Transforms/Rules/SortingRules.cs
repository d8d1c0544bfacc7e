namespace Jx;

/// <summary>Differentiation and batching rules of sort, top_k and threefry2x32.</summary>
internal static class SortingRules
{
    internal static void Register()
    {
        // sort: sort an iota alongside, then permute every tangent with the resulting order (as JAX's _sort_jvp).
        Ad.DefJvp(Sorting.Sort, (xs, ts, p) =>
        {
            int dim = p.Int("dimension");
            var iota = Lax.BroadcastedIota(DType.Int32, xs[0].Shape, dim);
            var outs = Sorting.Sort.Bind([.. xs, iota], p);
            var perm = outs[^1];
            var tangents = ts.Select(t => t is null ? null : (Tensor?)Np.TakeAlongAxis(t, perm, dim)).ToArray();
            return (outs[..^1], tangents);
        });
        Ad.DefJvp(Sorting.TopK, (xs, ts, p) =>
        {
            var outs = Sorting.TopK.Bind(xs, p);
            if (ts[0] is not Tensor g) return (outs, [null, null]);
            return (outs, [Np.TakeAlongAxis(g, outs[1], -1), null]);
        });
        Ad.DefNonDifferentiable(RandomBits.Threefry2x32, "a bit-level hash of integer keys and counters");

        Batching.Def(Sorting.Sort, (vals, dims, ps, size) =>
        {
            var outs = Sorting.Sort.Bind(Batching.AllAt0(vals, dims, size), ps.With("dimension", ps.Int("dimension") + 1));
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
        Batching.Def(Sorting.TopK, (vals, dims, ps, size) =>
        {
            var outs = Sorting.TopK.Bind([Batching.MoveTo(vals[0], dims[0], 0, size)], ps);
            return (outs, [0, 0]);
        });
        Batching.Def(RandomBits.Threefry2x32, Batching.Elementwise(RandomBits.Threefry2x32));
    }
}
