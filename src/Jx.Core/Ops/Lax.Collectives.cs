namespace Jx;

public static partial class Lax
{
    /// <summary>Sum of x over all members of the named axis (every member receives the total).</summary>
    /// <example><code>Vmap(x => x - Lax.Psum(x, "i"), axisName: "i")</code></example>
    public static Tensor Psum(Tensor x, string axisName) => Collectives.BindNamed(Collectives.Psum, [x], axisName, Params.Of(("axis_name", axisName)))[0];
    /// <summary>Mean of x over the named axis.</summary>
    public static Tensor Pmean(Tensor x, string axisName) =>
        Np.Divide(Psum(x, axisName), Np.Full([], AxisEnv.Find(axisName, "pmean").Size, Np.ToFloat(x).DType));
    public static Tensor Pmax(Tensor x, string axisName) => Collectives.BindNamed(Collectives.Pmax, [x], axisName, Params.Of(("axis_name", axisName)))[0];
    public static Tensor Pmin(Tensor x, string axisName) => Collectives.BindNamed(Collectives.Pmin, [x], axisName, Params.Of(("axis_name", axisName)))[0];
    /// <summary>The values of all members stacked along a new leading axis.</summary>
    public static Tensor AllGather(Tensor x, string axisName) =>
        Collectives.BindNamed(Collectives.AllGather, [x], axisName, Params.Of(("axis_name", axisName), ("axis_size", AxisEnv.Find(axisName, "all_gather").Size)))[0];
    /// <summary>This member's index along the named axis (int32).</summary>
    public static Tensor AxisIndex(string axisName) => Collectives.BindNamed(Collectives.AxisIndex, [], axisName, Params.Of(("axis_name", axisName)))[0];
}
