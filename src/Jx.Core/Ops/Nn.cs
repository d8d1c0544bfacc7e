namespace Jx;

/// <summary>jax.nn: activations, softmax family, one-hot and losses, written as compositions of primitives with JAX's
/// numerics (stable log-sum-exp, relu with gradient 0 at 0, softplus through a custom JVP).</summary>
/// <example><code>
/// var p = Nn.Softmax(logits);                     // rows sum to 1
/// var loss = Nn.SoftmaxCrossEntropy(logits, Nn.OneHot(labels, 10)).Mean();
/// </code></example>
public static class Nn
{
    private static readonly CustomJvpCall ReluCall = new("relu",
        xs => [Np.Maximum(xs[0], 0)],
        (xs, ts) =>
        {
            var x = xs[0];
            return ([Np.Maximum(x, 0)], [Lax.Select(Lax.Gt(x, Np.ZerosLike(x)), ts[0], Np.ZerosLike(ts[0]))]);
        });

    /// <summary>max(x, 0), with gradient 0 at 0 as in JAX.</summary>
    public static Tensor Relu(Tensor x) => ReluCall.Bind([x])[0];
    public static Tensor Relu6(Tensor x) => Np.Minimum(Relu(x), 6);
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = 0.01) => Np.Where(x >= 0, x, x * negativeSlope);
    public static Tensor Elu(Tensor x, double alpha = 1.0)
    {
        var safe = Np.Where(x > 0, Np.ZerosLike(x), x);
        return Np.Where(x > 0, x, Np.Expm1(safe) * alpha);
    }
    public static Tensor Selu(Tensor x) => Elu(x, 1.6732632423543772848170429916717) * 1.0507009873554804934193349852946;
    public static Tensor Celu(Tensor x, double alpha = 1.0) => Np.Maximum(x, 0) + alpha * Np.Expm1(Np.Minimum(x, 0) / alpha);

    /// <summary>GELU; the tanh approximation by default (jax.nn.gelu(approximate=True)).</summary>
    public static Tensor Gelu(Tensor x, bool approximate = true)
    {
        if (approximate)
        {
            const double c = 0.7978845608028654; // sqrt(2/pi)
            return 0.5 * x * (1 + Np.Tanh(c * (x + 0.044715 * x * x * x)));
        }
        return 0.5 * x * (1 + Lax.Erf(x / Math.Sqrt(2)));
    }

    public static Tensor Sigmoid(Tensor x) => Lax.Logistic(Np.ToFloat(x));
    public static Tensor Silu(Tensor x) => x * Sigmoid(x);
    public static Tensor Swish(Tensor x) => Silu(x);
    public static Tensor HardTanh(Tensor x) => Np.Clip(x, -1, 1);
    public static Tensor SoftSign(Tensor x) => x / (Np.Abs(x) + 1);

    private static readonly CustomJvpCall SoftplusCall = new("softplus",
        xs => [SoftplusPrimal(xs[0])],
        (xs, ts) => ([SoftplusPrimal(xs[0])], [Np.Multiply(ts[0], Lax.Logistic(xs[0]))]));

    // log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}): finite for every x.
    private static Tensor SoftplusPrimal(Tensor x) => Np.Maximum(x, 0) + Np.Log1p(Np.Exp(-Np.Abs(x)));

    /// <summary>log(1 + exp(x)), stable everywhere, with gradient sigmoid(x) through a custom JVP.</summary>
    public static Tensor Softplus(Tensor x) => SoftplusCall.Bind([Np.ToFloat(x)])[0];
    public static Tensor LogSigmoid(Tensor x) => -Softplus(-x);

    /// <summary>log(Σ exp(x)) over axes, stable for large inputs (the max is subtracted under stop_gradient).</summary>
    public static Tensor LogSumExp(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        x = Np.ToFloat(x);
        var ax = Np.NormalizeAxes(axes, x.Rank, "LogSumExp");
        var max = Lax.StopGradient(Np.Max(x, ax, keepDims: true));
        var safeMax = Np.Where(Np.IsFinite(max), max, Np.ZerosLike(max));
        var s = Np.Sum(Np.Exp(x - safeMax), ax, keepDims: true);
        var r = Np.Log(s) + safeMax;
        return keepDims ? r : Lax.Squeeze(r, ax);
    }
    public static Tensor LogSumExp(Tensor x, int axis, bool keepDims = false) => LogSumExp(x, [axis], keepDims);

    /// <summary>exp(x) / Σ exp(x) along axis (default the last), computed stably.</summary>
    public static Tensor Softmax(Tensor x, int axis = -1)
    {
        x = Np.ToFloat(x);
        var max = Lax.StopGradient(Np.Max(x, [axis], keepDims: true));
        var e = Np.Exp(x - max);
        return e / Np.Sum(e, [axis], keepDims: true);
    }

    public static Tensor LogSoftmax(Tensor x, int axis = -1)
    {
        x = Np.ToFloat(x);
        var shifted = x - Lax.StopGradient(Np.Max(x, [axis], keepDims: true));
        return shifted - Np.Log(Np.Sum(Np.Exp(shifted), [axis], keepDims: true));
    }

    /// <summary>One-hot encoding: result[..., c] = (x[...] == c). Out-of-range labels give all-zero rows.</summary>
    public static Tensor OneHot(Tensor x, int numClasses, DType dtype = DType.Float32)
    {
        if (x.DType.IsFloating()) throw new DTypeError($"OneHot needs integer labels, got {x.DType.Name()}");
        var xi = Lax.ConvertElementType(x, DType.Int32);
        var expanded = Lax.ExpandDims(xi, [x.Rank]);
        var classes = Lax.BroadcastedIota(DType.Int32, new Shape([.. x.Shape, numClasses]), x.Rank);
        return Lax.ConvertElementType(Lax.Eq(Np.BroadcastTo(expanded, classes.Shape), classes), dtype);
    }

    /// <summary>(x − mean) / sqrt(var + epsilon) along axis.</summary>
    public static Tensor Standardize(Tensor x, int axis = -1, double epsilon = 1e-5)
    {
        x = Np.ToFloat(x);
        var mean = Np.Mean(x, [axis], keepDims: true);
        var v = Np.Mean(Np.Square(x), [axis], keepDims: true) - Np.Square(mean);
        return (x - mean) * Lax.Rsqrt(v + epsilon);
    }

    /// <summary>Per-example cross-entropy −Σ labels·log_softmax(logits) over the last axis (optax.softmax_cross_entropy).</summary>
    public static Tensor SoftmaxCrossEntropy(Tensor logits, Tensor labels) => -Np.Sum(labels * LogSoftmax(logits), [-1]);

    /// <summary>Per-example cross-entropy with integer class labels.</summary>
    public static Tensor SoftmaxCrossEntropyWithIntegerLabels(Tensor logits, Tensor labels) =>
        SoftmaxCrossEntropy(logits, OneHot(labels, logits.Shape[^1], logits.DType));
}
