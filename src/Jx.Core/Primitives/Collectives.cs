namespace Jx;

/// <summary>Collective primitives over named axes: psum, pmax, pmin, all_gather, axis_index. They have meaning only
/// under a transform that defines the axis (Vmap with axisName now, Pmap later); their rules live with that transform.</summary>
[PrimitiveFamily]
public static class Collectives
{
    private static Primitive Reducing(string name) => new(name, "collective",
        (ins, p) => { Elementwise.Check(name, ins, 1); return [ins[0]]; },
        (xs, p, o) => throw Unbound(name, p));

    private static UnboundAxisNameError Unbound(string name, Params p) =>
        new($"{name}: unbound axis name '{p.Get<string>("axis_name")}': collectives run only inside Vmap or Pmap with that axisName");

    public static readonly Primitive Psum = Reducing("psum");
    public static readonly Primitive Pmax = Reducing("pmax");
    public static readonly Primitive Pmin = Reducing("pmin");

    /// <summary>all_gather[axis_name, axis_size]: every member receives the stack of all members' values (new leading axis).</summary>
    public static readonly Primitive AllGather = new("all_gather", "collective",
        (ins, p) => [ins[0] with { Shape = new Shape([p.Int("axis_size"), .. ins[0].Shape]) }],
        (xs, p, o) => throw Unbound("all_gather", p));

    /// <summary>axis_index[axis_name]: this member's int32 position along the named axis.</summary>
    public static readonly Primitive AxisIndex = new("axis_index", "collective",
        (ins, p) => [new Aval(Shape.Scalar, DType.Int32)],
        (xs, p, o) => throw Unbound("axis_index", p));

    /// <summary>Binds a collective over a named axis, first checking that an enclosing transform defines the name (a clear
    /// <see cref="UnboundAxisNameError"/> otherwise). <see cref="Primitive.Bind"/> itself routes a collective to the trace
    /// that defines its axis, even when x does not depend on it.</summary>
    internal static Tensor[] BindNamed(Primitive prim, Tensor[] args, string axisName, Params p)
    {
        AxisEnv.Find(axisName, prim.Name);
        return prim.Bind(args, p);
    }
}
