namespace Jx.Tests;

/// <summary>jax.nn's activations, softmax family, one-hot and losses, with values from JAX.</summary>
public class NnTests
{
    private static void Close(double expected, double actual, double tol = 1e-6) =>
        Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected:R}, got {actual:R}");

    private static void Close(double[] expected, Tensor actual, double tol = 1e-6)
    {
        var a = actual.ToDoubleArray();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Close(expected[i], a[i], tol);
    }

    [Fact]
    public void Activations()
    {
        var x = Np.Array(new[] { -2f, -1f, 0f, 1f, 7f });
        Assert.Equal(new[] { 0f, 0f, 0f, 1f, 7f }, Nn.Relu(x).ToArray<float>());
        Assert.Equal(new[] { 0f, 0f, 0f, 1f, 6f }, Nn.Relu6(x).ToArray<float>());
        Close([-0.02, -0.01, 0, 1, 7], Nn.LeakyRelu(x));
        Close([-0.8646647167633873, -0.6321205588285577, 0, 1, 7], Nn.Elu(x));
        Close([-0.8646647167633873, -0.6321205588285577, 0, 1, 7], Nn.Celu(x));
        Close([-1.5201664685956948, -1.1113307378125625, 0, 1.0507009873554805, 7.354906911488364], Nn.Selu(x));
        Close([0.11920292202211755, 0.2689414213699951, 0.5, 0.7310585786300049, 0.9990889488055994], Nn.Sigmoid(x));
        Close([-0.23840584404423515, -0.2689414213699951, 0, 0.7310585786300049, 6.993622641639196], Nn.Silu(x));
        Close([-2 / 3.0, -0.5, 0, 0.5, 7 / 8.0], Nn.SoftSign(x));
        Close([-1, -1, 0, 1, 1], Nn.HardTanh(x));
    }

    [Fact]
    public void Gelu()
    {
        // jax.nn.gelu(1.0) with approximate=True and False
        Close(0.8411919906082768, Nn.Gelu(Tensor.Scalar(1.0)).Item(), 1e-12);
        Close(0.8413447460685429, Nn.Gelu(Tensor.Scalar(1.0), approximate: false).Item(), 1e-12);
        Close(-0.04550026389635842, Nn.Gelu(Tensor.Scalar(-2.0), approximate: false).Item(), 1e-12);
        Assert.Equal(DType.Float32, Nn.Gelu(Np.Ones([2])).DType);
    }

    [Fact]
    public void SoftplusAndLogSigmoidAreStable()
    {
        var x = Np.Array(new[] { -1000.0, -1, 0, 1, 1000 });
        Close([0, 0.31326168751822286, 0.6931471805599453, 1.3132616875182228, 1000], Nn.Softplus(x), 1e-15);
        Close([-1000, -1.3132616875182228, -0.6931471805599453, -0.31326168751822286, 0], Nn.LogSigmoid(x), 1e-15);
        Close(4.539889921686465e-05, Nn.Softplus(Tensor.Scalar(-10.0)).Item(), 1e-19);
    }

    [Fact]
    public void SoftmaxFamily()
    {
        var x = Np.Array(new[] { 1f, 2f, 3f });
        Close([0.09003057317038046, 0.24472847105479764, 0.6652409557748219], Nn.Softmax(x));
        Close([-2.4076059644443806, -1.4076059644443806, -0.4076059644443806], Nn.LogSoftmax(x));
        Close(3.4076059644443806, Nn.LogSumExp(x).Item());
        // stable at large inputs
        var big = Np.Array(new[] { 1000.0, 1000.0 });
        Close([0.5, 0.5], Nn.Softmax(big), 1e-15);
        Close(1000 + Math.Log(2), Nn.LogSumExp(big).Item(), 1e-12);
        Assert.Equal(double.NegativeInfinity, Nn.LogSumExp(Np.Array(new[] { double.NegativeInfinity, double.NegativeInfinity })).Item());
        // along an axis, with keepDims
        var m = Np.Array(new[,] { { 0.0, 0.0 }, { 0.0, Math.Log(3) } });
        Close([0.5, 0.5, 0.25, 0.75], Nn.Softmax(m), 1e-15);
        Close([0.5, 0.25, 0.5, 0.75], Nn.Softmax(m, 0), 1e-15);
        Assert.Equal(new Shape(2, 1), Nn.LogSumExp(m, 1, keepDims: true).Shape);
        Close([Math.Log(2), Math.Log(4)], Nn.LogSumExp(m, 1), 1e-15);
    }

    [Fact]
    public void OneHot()
    {
        var y = Nn.OneHot(Np.Array(new[] { 0, 2, 5, -1 }), 3);
        Assert.Equal(new Shape(4, 3), y.Shape);
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new float[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 }, y.ToArray<float>());
        Assert.Equal(new Shape(2, 2, 4), Nn.OneHot(Np.Array(new[,] { { 0, 1 }, { 2, 3 } }), 4, DType.Int32).Shape);
        Assert.Throws<DTypeError>(() => Nn.OneHot(Np.Array(new[] { 1f }), 3));
    }

    [Fact]
    public void StandardizeAndCrossEntropy()
    {
        var s = Nn.Standardize(Np.Array(new[] { 1.0, 2, 3, 4 }));
        double sd = Math.Sqrt(1.25 + 1e-5);
        Close([-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd], s, 1e-12);
        var logits = Np.Array(new[,] { { 1f, 2f, 3f }, { 1f, 1f, 1f } });
        var ce = Nn.SoftmaxCrossEntropyWithIntegerLabels(logits, Np.Array(new[] { 2, 0 }));
        Close([0.4076059644443806, Math.Log(3)], ce);
        Close(ce.ToDoubleArray(), Nn.SoftmaxCrossEntropy(logits, Nn.OneHot(Np.Array(new[] { 2, 0 }), 3)));
    }
}
