namespace Jx;

/// <summary>Primitives outside the numeric families: stop_gradient (identity whose tangent is zero).</summary>
[PrimitiveFamily]
public static class Misc
{
    public static readonly Primitive StopGradient = new("stop_gradient", "misc",
        (ins, p) => { Elementwise.Check("stop_gradient", ins, 1); return [ins[0]]; },
        (xs, p, o) => [xs[0]]);
}
