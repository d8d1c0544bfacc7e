namespace Jx;

/// <summary>Differentiation rules of dot_general: bilinear, with JAX's transpose that contracts the cotangent with
/// the other operand and permutes the result back.</summary>
internal static class LinalgRules
{
    internal static void Register()
    {
        Ad.DefBilinear(Linalg.DotGeneral, (ct, ins, p) =>
        {
            var dn = DotDimensionNumbers.FromParam(p["dimension_numbers"]);
            if (ins[0].IsLinear && ins[1].IsLinear) throw new NotDifferentiableError("transpose of dot_general with both operands linear");
            return ins[0].IsLinear
                ? [TransposeLhs(ct[0], ins[0].Aval, ins[1].Value, dn, swapAns: false), null]
                : [null, TransposeLhs(ct[0], ins[1].Aval, ins[0].Value, new(dn.RhsContract, dn.LhsContract, dn.RhsBatch, dn.LhsBatch), swapAns: true)];
        });
    }

    private static int[] Range(int start, int n) => Enumerable.Range(start, n).ToArray();

    /// <summary>The cotangent of dot_general's lhs (x) given the rhs (y): dot_general(ct, y) contracted over y's free
    /// dims and batched over the batch dims, then transposed into x's layout.</summary>
    private static Tensor TransposeLhs(Tensor g, Aval x, Tensor y, DotDimensionNumbers dn, bool swapAns)
    {
        var xKept = Linalg.Free(x.Rank, dn.LhsContract, dn.LhsBatch);
        var yKept = Linalg.Free(y.Rank, dn.RhsContract, dn.RhsBatch);
        int nb = dn.LhsBatch.Length;
        var ansBatch = Range(0, nb);
        var ansY = swapAns ? Range(nb, yKept.Length) : Range(nb + xKept.Length, yKept.Length);
        var dims = new DotDimensionNumbers(ansY, yKept, ansBatch, dn.RhsBatch);
        var order = dn.RhsContract.Select((c, i) => (c, i)).OrderBy(t => t.c).Select(t => dn.LhsContract[t.i]).ToArray();
        var layout = dn.LhsBatch.Concat(xKept).Concat(order).ToArray();
        var outAxes = layout.Select((a, i) => (a, i)).OrderBy(t => t.a).Select(t => t.i).ToArray();
        // dot_general(y, g) lays the product out as (batch, y's contracted dims, x's kept dims); when that is already
        // x's layout (the weight gradient of x @ W, per-example or not), binding it that way saves the transpose.
        var swappedLayout = dn.LhsBatch.Concat(order).Concat(xKept).ToArray();
        bool IsIdentity(int[] axes) => axes.Select((a, i) => a == i).All(b => b);
        if (!IsIdentity(layout) && IsIdentity(swappedLayout))
        {
            var swapped = new DotDimensionNumbers(yKept, ansY, dn.RhsBatch, ansBatch);
            return Linalg.DotGeneral.Bind1([y, g], Params.Of(("dimension_numbers", swapped.ToParam()), ("precision", null), ("preferred_element_type", g.DType)));
        }
        var prod = Linalg.DotGeneral.Bind1([g, y], Params.Of(("dimension_numbers", dims.ToParam()), ("precision", null), ("preferred_element_type", g.DType)));
        return Lax.Transpose(prod, outAxes);
    }
}
