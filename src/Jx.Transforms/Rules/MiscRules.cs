namespace Jx;

/// <summary>Differentiation rules of stop_gradient and of the linear helper primitives that custom_vjp and checkpoint
/// stage into linearized programs.</summary>
internal static class MiscRules
{
    internal static void Register()
    {
        ElementwiseRules.DefZero(Misc.StopGradient);
        CustomRules.Register();

        // Collectives: psum and all_gather are linear; pmax/pmin choose (ties share the tangent); axis_index has no inputs.
        Ad.DefLinear(Collectives.Psum, (ct, ins, p) => [Lax.Psum(ct[0], p.Get<string>("axis_name"))]);
        Ad.DefLinear(Collectives.AllGather, (ct, ins, p) =>
        {
            var name = p.Get<string>("axis_name");
            var summed = Lax.Psum(ct[0], name);
            var idx = Lax.AxisIndex(name);
            var zeros = Enumerable.Repeat(0, summed.Rank - 1).Select(z => (Tensor)Np.Zeros([], DType.Int32));
            var slice = Lax.DynamicSlice(summed, [idx, .. zeros], [1, .. ins[0].Shape]);
            return [Lax.Reshape(slice, ins[0].Shape)];
        });
        foreach (var prim in new[] { Collectives.Pmax, Collectives.Pmin })
            Ad.DefJvp(prim, (xs, ts, p) =>
            {
                var name = p.Get<string>("axis_name");
                var ans = prim.Bind1(xs, p);
                if (ts[0] is not Tensor g) return ([ans], [null]);
                var hit = Lax.ConvertElementType(Lax.Eq(xs[0], ans), g.DType);
                return ([ans], [Lax.Div(Lax.Psum(Lax.Mul(g, hit), name), Lax.Psum(hit, name))]);
            });
        Ad.DefNonDifferentiable(Collectives.AxisIndex, "integer result with no inputs");
    }
}
