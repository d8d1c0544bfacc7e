using System.Globalization;

namespace Jx;

/// <summary>Which differentiation modes <see cref="Transforms.CheckGrads{TIn, TOut}"/> checks.</summary>
[Flags]
public enum GradModes { Fwd = 1, Rev = 2, Both = Fwd | Rev }

/// <summary>A derivative disagreed with finite differences: the message names the check (JVP/VJP chain), the order,
/// the input and output involved, both values and the tolerance.</summary>
public class GradientCheckError(string message) : JxException(message);

public static partial class Transforms
{
    /// <summary>Checks derivatives against central finite differences (eps 1e-4), as jax.test_util.check_grads: forward
    /// mode compares each JVP with the numerical JVP along one random tangent; reverse mode checks
    /// ⟨t, vjp(c)⟩ ≈ ⟨jvp(t), c⟩ for random t and c; higher orders recurse (forward on Jvp of f, reverse on the pullback
    /// applied to the primal output). Tolerances per dtype as JAX: float32 2e-3, float64 1e-5. Throws
    /// <see cref="GradientCheckError"/> with a report on failure.</summary>
    /// <example><code>Transforms.CheckGrads((Tensor x) => Np.Sin(x) * x, Np.Array(new[] { 0.3, 1.2 }), order: 2);</code></example>
    public static void CheckGrads<TIn, TOut>(Func<TIn, TOut> f, TIn args, int order, GradModes modes = GradModes.Both,
        double? atol = null, double? rtol = null, double eps = 1e-4)
    {
        var (leaves, def) = Tree.Flatten(args);
        Tensor[] Flat(Tensor[] xs) => Tree.Leaves(f((TIn)Tree.Unflatten(def, xs)!)).ToArray();
        GradCheck.Run(Flat, leaves.ToArray(), order, modes, atol, rtol, eps, "");
    }

    /// <summary>CheckGrads for a function of one tensor.</summary>
    public static void CheckGrads(Func<Tensor, Tensor> f, Tensor x, int order, GradModes modes = GradModes.Both,
        double? atol = null, double? rtol = null, double eps = 1e-4) => CheckGrads<Tensor, Tensor>(f, x, order, modes, atol, rtol, eps);
}

internal static class GradCheck
{
    public static double DefaultTolerance(DType d) => d switch
    {
        DType.Float16 => 1e-2,
        DType.BFloat16 => 1e-1,
        DType.Float32 => 2e-3,
        DType.Float64 => 1e-5,
        _ => 0,
    };

    public static void Run(Func<Tensor[], Tensor[]> f, Tensor[] args, int order, GradModes modes, double? atol, double? rtol, double eps, string chain)
    {
        if (order < 1) throw new InvalidArgumentError($"CheckGrads: order must be >= 1, got {order}");
        if ((modes & GradModes.Fwd) != 0)
        {
            var msg = chain.Length == 0 ? "JVP" : $"JVP of {chain}";
            CheckJvp(f, args, atol, rtol, eps, msg, order);
            if (order > 1)
            {
                int n = args.Length;
                Tensor[] JvpF(Tensor[] pt)
                {
                    var (o, t) = JvpFlat.Run(f, pt[..n], pt[n..].Select((x, i) => pt[i].DType.IsFloating() ? (Tensor?)x : null).ToArray());
                    return [.. o, .. t.Select((ti, i) => ti ?? Np.ZerosLike(o[i]))];
                }
                Run(JvpF, [.. args, .. args], order - 1, modes, atol, rtol, eps, msg);
            }
        }
        if ((modes & GradModes.Rev) != 0)
        {
            var msg = chain.Length == 0 ? "VJP" : $"VJP of {chain}";
            CheckVjp(f, args, atol, rtol, eps, msg, order);
            if (order > 1)
            {
                Tensor[] VjpF(Tensor[] xs)
                {
                    var (outs, lin) = LinearFunction.Build(f, xs, xs.Select(x => x.DType.IsFloating()).ToArray());
                    return lin.Transpose(outs.Select(o => (Tensor?)o).ToArray());
                }
                Run(VjpF, args, order - 1, modes, atol, rtol, eps, msg);
            }
        }
    }

    private static Tensor[] RandLike(System.Random rng, Tensor[] xs) => xs.Select(x =>
    {
        if (!x.DType.IsFloating()) return Np.ZerosLike(x);
        var v = new double[x.Size];
        for (int i = 0; i < v.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            v[i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        return Lax.ConvertElementType(Tensor.FromArray(v, x.Shape), x.DType);
    }).ToArray();

    private static Tensor[] NumericalJvp(Func<Tensor[], Tensor[]> f, Tensor[] xs, Tensor[] ts, double eps)
    {
        var plus = f(xs.Select((x, i) => x.DType.IsFloating() ? Np.Add(x, Np.Multiply(ts[i], eps)) : x).ToArray());
        var minus = f(xs.Select((x, i) => x.DType.IsFloating() ? Np.Subtract(x, Np.Multiply(ts[i], eps)) : x).ToArray());
        return plus.Select((p, i) => p.DType.IsFloating() ? Np.Multiply(Np.Subtract(p, minus[i]), 0.5 / eps) : Np.ZerosLike(p)).ToArray();
    }

    private static void CheckJvp(Func<Tensor[], Tensor[]> f, Tensor[] args, double? atol, double? rtol, double eps, string what, int order)
    {
        var rng = new System.Random(0);
        var tangent = RandLike(rng, args);
        var (vOut, tOut) = JvpFlat.Run(f, args, tangent.Select((t, i) => args[i].DType.IsFloating() ? (Tensor?)t : null).ToArray());
        var expected = f(args);
        var tExpected = NumericalJvp(f, args, tangent, eps);
        for (int i = 0; i < vOut.Length; i++)
        {
            Close(vOut[i], expected[i], atol, rtol, () => $"{what} primal output {i}", order);
            var t = tOut[i] ?? Np.ZerosLike(vOut[i]);
            if (!IsClose(t, tExpected[i], atol, rtol, out var detail))
            {
                var culprit = FindInput(f, args, tangent, i, eps, atol, rtol);
                throw new GradientCheckError($"CheckGrads failed: {what} tangent of output {i} (order {order}, forward mode){culprit}: {detail}");
            }
        }
    }

    /// <summary>Re-runs the forward check with a tangent on one input at a time to name the input whose derivative is wrong.</summary>
    private static string FindInput(Func<Tensor[], Tensor[]> f, Tensor[] args, Tensor[] tangent, int output, double eps, double? atol, double? rtol)
    {
        if (args.Length == 1) return " with respect to input 0";
        for (int k = 0; k < args.Length; k++)
        {
            if (!args[k].DType.IsFloating()) continue;
            var only = tangent.Select((t, i) => i == k ? t : Np.ZerosLike(t)).ToArray();
            var (_, t) = JvpFlat.Run(f, args, only.Select((x, i) => args[i].DType.IsFloating() ? (Tensor?)x : null).ToArray());
            var num = NumericalJvp(f, args, only, eps);
            if (!IsClose(t[output] ?? Np.ZerosLike(num[output]), num[output], atol, rtol, out _)) return $" with respect to input {k} ({args[k].Aval})";
        }
        return " (no single input fails alone)";
    }

    private static void CheckVjp(Func<Tensor[], Tensor[]> f, Tensor[] args, double? atol, double? rtol, double eps, string what, int order)
    {
        var rng = new System.Random(0);
        var (vOut, lin) = LinearFunction.Build(f, args, args.Select(x => x.DType.IsFloating()).ToArray());
        var expected = f(args);
        for (int i = 0; i < vOut.Length; i++) Close(vOut[i], expected[i], atol, rtol, () => $"{what} primal output {i}", order);
        var tangent = RandLike(rng, args);
        var tangentOut = NumericalJvp(f, args, tangent, eps);
        var cotangent = RandLike(rng, vOut);
        var cotangentOut = lin.Transpose(cotangent.Select(c => (Tensor?)c).ToArray());
        double ip = Inner(tangent, cotangentOut), ipExpected = Inner(tangentOut, cotangent);
        var dtype = vOut.Concat(args).Where(x => x.DType.IsFloating()).Select(x => x.DType).DefaultIfEmpty(DType.Float64).Min();
        double a = atol ?? DefaultTolerance(dtype), r = rtol ?? DefaultTolerance(dtype);
        if (!(Math.Abs(ip - ipExpected) <= a + r * Math.Abs(ipExpected)))
        {
            string culprit = "";
            for (int k = 0; k < args.Length && args.Length > 1; k++)
            {
                if (!args[k].DType.IsFloating()) continue;
                var only = tangent.Select((t, i) => i == k ? t : Np.ZerosLike(t)).ToArray();
                double ipk = Inner(only, cotangentOut), ipek = Inner(NumericalJvp(f, args, only, eps), cotangent);
                if (!(Math.Abs(ipk - ipek) <= a + r * Math.Abs(ipek))) { culprit = $" with respect to input {k} ({args[k].Aval})"; break; }
            }
            if (args.Length == 1) culprit = " with respect to input 0";
            throw new GradientCheckError(
                $"CheckGrads failed: {what} cotangent projection (order {order}, reverse mode){culprit}: <t, vjp(c)> = {F(ip)} but <jvp(t), c> (finite differences) = {F(ipExpected)}; " +
                $"|difference| = {F(Math.Abs(ip - ipExpected))} exceeds atol + rtol·|expected| = {F(a + r * Math.Abs(ipExpected))} ({dtype.Name()} tolerance {F(a)})");
        }
    }

    private static double Inner(Tensor[] a, Tensor[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (!a[i].DType.IsFloating() || !b[i].DType.IsFloating()) continue;
            var x = a[i].ToDoubleArray();
            var y = b[i].ToDoubleArray();
            for (int k = 0; k < x.Length; k++) s += x[k] * y[k];
        }
        return s;
    }

    private static void Close(Tensor actual, Tensor expected, double? atol, double? rtol, Func<string> what, int order)
    {
        if (!IsClose(actual, expected, atol, rtol, out var detail))
            throw new GradientCheckError($"CheckGrads failed: {what()} (order {order}): {detail}");
    }

    private static bool IsClose(Tensor actual, Tensor expected, double? atol, double? rtol, out string detail)
    {
        detail = "";
        if (actual.Shape != expected.Shape) { detail = $"shape {actual.Shape} vs expected {expected.Shape}"; return false; }
        var dtype = actual.DType.IsFloating() ? actual.DType : DType.Float64;
        double a = atol ?? DefaultTolerance(dtype), r = rtol ?? DefaultTolerance(dtype);
        var x = actual.ToDoubleArray();
        var y = expected.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
        {
            if (double.IsNaN(x[i]) && double.IsNaN(y[i])) continue;
            if (!(Math.Abs(x[i] - y[i]) <= a + r * Math.Abs(y[i])))
            {
                detail = $"at flat index {i} of {actual.Aval}: got {F(x[i])}, expected {F(y[i])} (finite differences); |difference| = {F(Math.Abs(x[i] - y[i]))} " +
                         $"exceeds atol + rtol·|expected| = {F(a + r * Math.Abs(y[i]))} ({dtype.Name()} tolerance {F(a)})";
                return false;
            }
        }
        return true;
    }

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
