namespace Jx;

/// <summary>Top-level functions of Jx.Core: <see cref="MakeJaxpr{TIn,TOut}"/>, devices and transfers.
/// Reach them as <c>Jax.MakeJaxpr(...)</c> or bring them in with <c>using static Jx.Jax;</c>.</summary>
/// <example><code>
/// Console.WriteLine(Jax.MakeJaxpr((Tensor x) => Np.Sin(x) + 1f)(Np.Ones([3])));
/// // { lambda ; a:f32[3]. let b:f32[3] = sin a; ... in (c,) }
/// </code></example>
public static class Jax
{
    /// <summary>Traces f on abstract values shaped like the example arguments and returns its IR.</summary>
    public static Func<TIn, ClosedJaxpr> MakeJaxpr<TIn, TOut>(Func<TIn, TOut> f) => args =>
    {
        var (leaves, def) = Tree.Flatten(args);
        return StagingTrace.TraceToJaxpr(flat =>
        {
            var outs = f((TIn)Tree.Unflatten(def, flat)!);
            return Tree.Leaves(outs).ToArray();
        }, leaves.Select(l => l.Aval).ToArray());
    };

    /// <summary>Two-argument form.</summary>
    public static Func<T1, T2, ClosedJaxpr> MakeJaxpr<T1, T2, TOut>(Func<T1, T2, TOut> f)
    {
        var g = MakeJaxpr<(T1, T2), TOut>(t => f(t.Item1, t.Item2));
        return (a, b) => g((a, b));
    }

    /// <summary>Three-argument form.</summary>
    public static Func<T1, T2, T3, ClosedJaxpr> MakeJaxpr<T1, T2, T3, TOut>(Func<T1, T2, T3, TOut> f)
    {
        var g = MakeJaxpr<(T1, T2, T3), TOut>(t => f(t.Item1, t.Item2, t.Item3));
        return (a, b, c) => g((a, b, c));
    }

    /// <summary>The devices available: JX_CPU_DEVICES virtual CPU devices (default 1).</summary>
    public static IReadOnlyList<Device> Devices() => Device.Cpus;

    /// <summary>The devices of one platform ("cpu").</summary>
    public static IReadOnlyList<Device> Devices(string platform) => platform == "cpu" ? Device.Cpus
        : throw new DeviceError($"no devices of platform '{platform}' are available; available: cpu (JX_CPU_DEVICES={Device.Cpus.Count})");

    public static Device DefaultDevice => Device.Default;

    /// <summary>Copies (or moves) a concrete tensor to a device; a no-op when it is already there.</summary>
    public static Tensor DevicePut(Tensor x, Device device)
    {
        var c = x.Concrete("DevicePut");
        if (!Device.Cpus.Contains(device)) throw new DeviceError($"unknown device {device}; available: {string.Join(", ", Device.Cpus)}");
        if (c.Buffer!.Device.Equals(device)) return c;
        // A copy, as a transfer between devices makes one: the two tensors never share an array, so donating one of
        // them to a jitted function (which may write its outputs into the donated array) cannot change the other.
        return new Tensor(new Buffer((Array)c.Buffer.RawArray().Clone(), c.DType, device), c.Shape, c.WeakType);
    }

    /// <summary>Applies <see cref="DevicePut(Tensor, Device)"/> to every leaf of a pytree.</summary>
    public static T DevicePut<T>(T tree, Device device) => Tree.Map(t => DevicePut(t, device), tree);
}
