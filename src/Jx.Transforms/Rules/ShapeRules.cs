namespace Jx;

/// <summary>Differentiation rules of the shape primitives: all linear, so each has a JVP (the primitive applied to the
/// tangent) and a transpose.</summary>
internal static class ShapeRules
{
    internal static void Register()
    {
        Ad.DefLinear(ShapeOps.BroadcastInDim, (ct, ins, p) =>
        {
            var x = ins[0].Aval;
            var bd = p.Ints("broadcast_dimensions");
            var outRank = ct[0].Rank;
            var summed = Enumerable.Range(0, outRank).Where(d => !bd.Contains(d) || x.Shape[Array.IndexOf(bd, d)] != ct[0].Shape[d]).ToArray();
            var s = Lax.ReduceSum(ct[0], summed);
            return [Lax.Reshape(s, x.Shape)];
        });
        Ad.DefLinear(ShapeOps.Reshape, (ct, ins, p) => [Lax.Reshape(ct[0], ins[0].Shape)]);
        Ad.DefLinear(ShapeOps.Transpose, (ct, ins, p) =>
        {
            var perm = p.Ints("permutation");
            var inv = new int[perm.Length];
            for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
            return [Lax.Transpose(ct[0], inv)];
        });
        Ad.DefLinear(ShapeOps.Squeeze, (ct, ins, p) => [Lax.Reshape(ct[0], ins[0].Shape)]);
        Ad.DefLinear(ShapeOps.ExpandDims, (ct, ins, p) => [Lax.Reshape(ct[0], ins[0].Shape)]);
        Ad.DefLinear(ShapeOps.Rev, (ct, ins, p) => [Lax.Rev(ct[0], p.Ints("dimensions"))]);
        Ad.DefLinear(ShapeOps.Slice, (ct, ins, p) =>
        {
            var shape = ins[0].Shape;
            var start = p.Ints("start_indices");
            var strides = p["strides"] is null ? Enumerable.Repeat(1, shape.Rank).ToArray() : p.Ints("strides");
            var cfg = new (int, int, int)[shape.Rank];
            for (int i = 0; i < shape.Rank; i++)
            {
                int n = ct[0].Shape[i];
                int realLimit = n == 0 ? start[i] : start[i] + (n - 1) * strides[i] + 1;
                cfg[i] = (start[i], shape[i] - realLimit, n == 0 ? 0 : strides[i] - 1);
            }
            if (ct[0].Size == 0) return [Np.Zeros(shape, ct[0].DType)];
            return [Lax.Pad(ct[0], Np.Zeros([], ct[0].DType), cfg)];
        });
        Ad.DefLinear(ShapeOps.Concatenate, (ct, ins, p) =>
        {
            int dim = p.Int("dimension");
            var r = new Tensor?[ins.Length];
            int off = 0;
            for (int i = 0; i < ins.Length; i++)
            {
                int n = ins[i].Shape[dim];
                if (ins[i].IsLinear) r[i] = Lax.SliceInDim(ct[0], off, off + n, 1, dim);
                off += n;
            }
            return r;
        });
        Ad.DefLinear(ShapeOps.Pad, (ct, ins, p) =>
        {
            var cfg = ShapeOps.PadConfig(p, ins[0].Shape.Rank);
            var c = ct[0];
            Tensor? tOperand = null;
            if (ins[0].IsLinear || ins[1].IsLinear)
            {
                // Undo low/high padding (a pad by the negated amounts), then take every (interior+1)-th element.
                var unpadded = Lax.Pad(c, Np.Zeros([], c.DType), cfg.Select(q => (-q.Lo, -q.Hi, 0)).ToArray());
                tOperand = Lax.Slice(unpadded, new int[c.Rank], unpadded.Shape.ToArray(), cfg.Select(q => q.Interior + 1).ToArray());
            }
            Tensor? tValue = ins[1].IsLinear ? Lax.Sub(Lax.ReduceSum(c, Enumerable.Range(0, c.Rank).ToArray()), Lax.ReduceSum(tOperand!, Enumerable.Range(0, c.Rank).ToArray())) : null;
            return [ins[0].IsLinear ? tOperand : null, tValue];
        });
        Ad.DefNonDifferentiable(ShapeOps.Iota, "has no inputs");

        Ad.DefJvp(ShapeOps.DynamicSlice, (xs, ts, p) =>
        {
            var ans = ShapeOps.DynamicSlice.Bind1(xs, p);
            if (ts[0] is not Tensor g) return ([ans], [null]);
            return ([ans], [ShapeOps.DynamicSlice.Bind1([g, .. xs[1..]], p)]);
        });
        Ad.DefTranspose(ShapeOps.DynamicSlice, (ct, ins, p) =>
        {
            var idx = ins[1..].Select(i => i.Value).ToArray();
            var zeros = Np.Zeros(ins[0].Shape, ct[0].DType);
            return [ShapeOps.DynamicUpdateSlice.Bind1([zeros, ct[0], .. idx], Params.Empty), .. new Tensor?[idx.Length]];
        });
        Ad.DefJvp(ShapeOps.DynamicUpdateSlice, (xs, ts, p) =>
        {
            var ans = ShapeOps.DynamicUpdateSlice.Bind1(xs, p);
            if (ts[0] is null && ts[1] is null) return ([ans], [null]);
            var t0 = ts[0] ?? Ad.ZerosLikeTangent(xs[0]);
            var t1 = ts[1] ?? Ad.ZerosLikeTangent(xs[1]);
            return ([ans], [ShapeOps.DynamicUpdateSlice.Bind1([t0, t1, .. xs[2..]], p)]);
        });
        Ad.DefTranspose(ShapeOps.DynamicUpdateSlice, (ct, ins, p) =>
        {
            var idx = ins[2..].Select(i => i.Value).ToArray();
            var u = ins[1].Aval;
            Tensor? tOp = ins[0].IsLinear ? ShapeOps.DynamicUpdateSlice.Bind1([ct[0], Np.Zeros(u.Shape, ct[0].DType), .. idx], Params.Empty) : null;
            Tensor? tUpd = ins[1].IsLinear ? Lax.DynamicSlice(ct[0], idx, u.Shape.ToArray()) : null;
            return [tOp, tUpd, .. new Tensor?[idx.Length]];
        });
    }
}
