using static Jx.Transforms;

namespace Jx.Tests;

public class AutodiffTests
{
    private static Tensor D(double v) => Tensor.Scalar(v);

    [Fact]
    public void TanhDerivativesFloat64()
    {
        Func<Tensor, Tensor> f = x => Np.Tanh(x);
        Assert.Equal(0.07065082485316443, Grad(f)(D(2.0)).Item<double>(), 12);
        Assert.Equal(-0.13621868742711296, Grad(Grad(f))(D(2.0)).Item<double>(), 12);
        Assert.Equal(0.2526540650980626, Grad(Grad(Grad(f)))(D(2.0)).Item<double>(), 12);
    }

    [Fact]
    public void TanhDerivativesFloat32()
    {
        Func<Tensor, Tensor> f = x => Np.Tanh(x);
        var x = Tensor.Scalar(2.0f);
        Assert.Equal(0.07065082485316443, Grad(f)(x).Item<float>(), 0.07065082485316443 * 1e-5);
        Assert.Equal(-0.13621868742711296, Grad(Grad(f))(x).Item<float>(), 0.13621868742711296 * 1e-5);
        Assert.Equal(0.2526540650980626, Grad(Grad(Grad(f)))(x).Item<float>(), 0.2526540650980626 * 1e-5);
    }

    [Fact]
    public void PolynomialDerivatives()
    {
        Func<Tensor, Tensor> f = x => x * x * x + 2 * x * x - 3 * x + 1;
        var x = D(1.0);
        Assert.Equal(4.0, Grad(f)(x).Item<double>(), 12);
        Assert.Equal(10.0, Grad(Grad(f))(x).Item<double>(), 12);
        Assert.Equal(6.0, Grad(Grad(Grad(f)))(x).Item<double>(), 12);
        Assert.Equal(0.0, Grad(Grad(Grad(Grad(f))))(x).Item<double>(), 12);
    }

    [Fact]
    public void SixNestedGradsOfReciprocal()
    {
        Func<Tensor, Tensor> f = x => 1f / x;
        for (int i = 0; i < 6; i++) f = Grad(f);
        Assert.Equal(0.0439453125f, f(Tensor.Scalar(4.0f)).Item<float>());
    }

    [Fact]
    public void LogSumExpIsStableWithExactGradient()
    {
        var x = Np.Array(new double[] { 1000, 999 });
        Assert.Equal(1000.3132616875182, Nn.LogSumExp(x).Item<double>(), 10);
        var g = Grad((Tensor v) => Nn.LogSumExp(v))(x).ToArray<double>();
        Assert.Equal(0.7310585786300168, g[0], 12);
        Assert.Equal(0.2689414213699995, g[1], 12);
    }

    [Fact]
    public void MaxSplitsGradientAtTiesAndHessianMatchesJax()
    {
        var x = Np.Array(new float[] { -1, -0.5f, 0, 0.5f, 1 });
        var h = Hessian(v => Np.Sum(Np.Square(Np.Maximum(v, 0f))))(x);
        var expected = new float[25];
        expected[2 * 5 + 2] = 0.5f; expected[3 * 5 + 3] = 2; expected[4 * 5 + 4] = 2;
        Assert.Equal(expected, h.ToArray<float>());
    }

    [Fact]
    public void ReluHasZeroGradientAtZero()
    {
        var g = Grad((Tensor x) => Nn.Relu(x).Sum())(Np.Array(new float[] { -1, 0, 2 }));
        Assert.Equal(new float[] { 0, 0, 1 }, g.ToArray<float>());
    }

    [Fact]
    public void SoftplusGradientIsOneAt100()
    {
        var g = Grad((Tensor x) => Nn.Softplus(x))(Tensor.Scalar(100f));
        Assert.Equal(1.0f, g.Item<float>());
        Assert.Equal(100f, Nn.Softplus(Tensor.Scalar(100f)).Item<float>());
    }

    [Fact]
    public void SoftmaxCrossEntropyIsStableAtLargeLogits()
    {
        var logits = Np.Array(new float[,] { { 1000, -1000, 0 } });
        var labels = Np.Array(new float[,] { { 0, 1, 0 } });
        var loss = Nn.SoftmaxCrossEntropy(logits, labels).Item<float>();
        Assert.Equal(2000f, loss);
        var g = Grad((Tensor l) => Nn.SoftmaxCrossEntropy(l, labels).Sum())(logits).ToArray<float>();
        Assert.Equal(new float[] { 1, -1, 0 }, g);
    }

    [Fact]
    public void JvpAndVjpAgreeOnMatmulChain()
    {
        var w = Np.Array(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } });
        Func<Tensor, Tensor> f = x => Np.Tanh(x.Matmul(w)).Sum(0);
        var x = Np.Array(new double[,] { { 0.1, -0.2, 0.3 }, { 0.05, 0.4, -0.1 } });
        var t = Np.Array(new double[,] { { 1, 0.5, -1 }, { 0.2, 0.3, 0.4 } });
        var (y, ty) = Jvp(f, x, t);
        var (y2, pull) = Vjp(f, x);
        var c = Np.Array(new double[] { 0.7, -1.3 });
        var lhs = Np.Sum(c * ty).Item<double>();
        var rhs = Np.Sum(pull(c) * t).Item<double>();
        Assert.Equal(lhs, rhs, 12);
        Assert.True(Np.AllClose(y, y2));
    }

    [Fact]
    public void JacfwdEqualsJacrev()
    {
        Func<Tensor, Tensor> f = x => Np.Sin(x) * Np.Cumsum(x) + Np.Take(x, Np.Array(new[] { 2, 0, 1 }));
        var x = Np.Array(new double[] { 0.3, -1.2, 2.0 });
        Assert.True(Np.AllClose(Jacfwd(f)(x), Jacrev(f)(x), 1e-12, 1e-12));
    }

    /// <summary>The Jacobian by the old definition: one JVP per input basis vector (columns) or one pullback per output
    /// basis vector (rows), stacked in a loop.</summary>
    private static Tensor LoopJacobian(Func<Tensor, Tensor> f, Tensor x, bool reverse)
    {
        Tensor Basis(Tensor like, int k) => Lax.Reshape(Nn.OneHot(Tensor.Scalar(k), like.Size, like.DType), like.Shape);
        if (reverse)
        {
            var (y, pull) = Vjp(f, x);
            return Lax.Reshape(Np.Stack(Enumerable.Range(0, y.Size).Select(j => pull(Basis(y, j))).ToArray(), 0), new Shape([.. y.Shape, .. x.Shape]));
        }
        var o = f(x);
        var cols = Enumerable.Range(0, x.Size).Select(k => Jvp(f, x, Basis(x, k)).Tangent).ToArray();
        return Lax.Reshape(Np.Stack(cols, -1), new Shape([.. o.Shape, .. x.Shape]));
    }

    private static int CountEqns(ClosedJaxpr j, string primitive) => j.Jaxpr.Eqns.Count(e => e.Primitive.Name == primitive);

    [Fact]
    public void JacobiansVectorizeOverTheStandardBasis()
    {
        // f(x) = sin(x) · Σx: J[i, k] = δ_ik · cos(x_i) · Σx + sin(x_i).
        Func<Tensor, Tensor> f = x => Np.Sin(x) * x.Sum();
        double[] xv = [0.5, -1.0, 2.0];
        var x = Np.Array(xv);
        double s = xv.Sum();
        var expected = new double[9];
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                expected[i * 3 + k] = (i == k ? Math.Cos(xv[i]) * s : 0) + Math.Sin(xv[i]);
        var rev = Jacrev(f)(x);
        var fwd = Jacfwd(f)(x);
        Assert.Equal(new Shape(3, 3), rev.Shape);
        Assert.Equal(new Shape(3, 3), fwd.Shape);
        var r = rev.ToArray<double>();
        var w = fwd.ToArray<double>();
        for (int i = 0; i < 9; i++) { Assert.Equal(expected[i], r[i], 14); Assert.Equal(expected[i], w[i], 14); }
        Assert.Equal(1.7957993814397621, r[0], 14); // cos(0.5)·1.5 + sin(0.5)
        // The same numbers as the loop over basis vectors (one pullback / one JVP each)...
        Assert.True(Np.AllClose(rev, LoopJacobian(f, x, reverse: true), 1e-15, 1e-15));
        Assert.True(Np.AllClose(fwd, LoopJacobian(f, x, reverse: false), 1e-15, 1e-15));
        // ...but in one vectorized pass: sin and cos appear once in the program, not once per basis vector.
        foreach (var jac in new[] { MakeJaxpr(Jacrev(f))(x), MakeJaxpr(Jacfwd(f))(x) })
        {
            Assert.Equal(1, CountEqns(jac, "sin"));
            Assert.Equal(1, CountEqns(jac, "cos"));
        }
        Assert.Equal(3, CountEqns(MakeJaxpr((Tensor v) => LoopJacobian(f, v, reverse: false))(x), "cos")); // one JVP per column
    }

    [Fact]
    public void JacobiansThroughDotGeneralAndReductions()
    {
        // f(X) = Σ_j ((X B)_ij)² for X (2, 3), B (3, 2): J[i, l, k] = δ_il · 2 (X B Bᵀ)_ik;
        // the Hessian of its sum is H[i, k, l, m] = δ_il · 2 (B Bᵀ)_km.
        double[,] xv = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.75 } };
        double[,] bv = { { 1.0, 2.0 }, { -1.0, 0.5 }, { 3.0, -2.0 } };
        var X = Np.Array(xv);
        var B = Np.Array(bv);
        Func<Tensor, Tensor> f = x => Np.Sum(Np.Square(Np.Matmul(x, B)), 1);
        double XB(int i, int j) => Enumerable.Range(0, 3).Sum(k => xv[i, k] * bv[k, j]);
        double BBt(int k, int m) => Enumerable.Range(0, 2).Sum(j => bv[k, j] * bv[m, j]);
        var expected = new double[2 * 2 * 3];
        for (int i = 0; i < 2; i++)
            for (int l = 0; l < 2; l++)
                for (int k = 0; k < 3; k++)
                    expected[(i * 2 + l) * 3 + k] = i == l ? 2 * Enumerable.Range(0, 2).Sum(j => XB(i, j) * bv[k, j]) : 0;
        foreach (var jac in new[] { Jacrev(f)(X), Jacfwd(f)(X) })
        {
            Assert.Equal(new Shape(2, 2, 3), jac.Shape);
            var a = jac.ToArray<double>();
            for (int q = 0; q < a.Length; q++) Assert.Equal(expected[q], a[q], 12);
        }
        var hess = Hessian(x => Np.Sum(f(x)))(X);
        Assert.Equal(new Shape(2, 3, 2, 3), hess.Shape);
        var h = hess.ToArray<double>();
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++)
                for (int l = 0; l < 2; l++)
                    for (int m = 0; m < 3; m++)
                        Assert.Equal(i == l ? 2 * BBt(k, m) : 0, h[((i * 3 + k) * 2 + l) * 3 + m], 12);

        // g(x) = (A x) · mean(x) + max(x): J[i, k] = A_ik · mean(x) + (A x)_i / 3 + [k = argmax x].
        double[] v = [0.3, -1.2, 2.0];
        double[,] av = { { 1, 2, 3 }, { -1, 0, 4 } };
        var A = Np.Array(av);
        Func<Tensor, Tensor> g = x => Np.Matmul(A, x) * Np.Mean(x) + Np.Max(x);
        double mean = v.Average();
        var gExpected = new double[6];
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++)
                gExpected[i * 3 + k] = av[i, k] * mean + Enumerable.Range(0, 3).Sum(j => av[i, j] * v[j]) / 3 + (k == 2 ? 1 : 0);
        foreach (var jac in new[] { Jacrev(g)(Np.Array(v)), Jacfwd(g)(Np.Array(v)) })
        {
            Assert.Equal(new Shape(2, 3), jac.Shape);
            var a = jac.ToArray<double>();
            for (int q = 0; q < 6; q++) Assert.Equal(gExpected[q], a[q], 12);
        }
        // A scalar output: the Jacobian is the gradient (shape in.shape).
        Assert.Equal(new[] { 0.6, -2.4, 4.0 }, Jacrev((Tensor x) => Np.Sum(x * x))(Np.Array(v)).ToArray<double>());
        Assert.Equal(new[] { 0.6, -2.4, 4.0 }, Jacfwd((Tensor x) => Np.Sum(x * x))(Np.Array(v)).ToArray<double>());
    }

    [Fact]
    public void GradOverPytreeAndArgnums()
    {
        var w = Np.Array(new double[] { 1, 2 });
        var b = Tensor.Scalar(0.5);
        var g = Grad((Tensor w2, Tensor b2) => Np.Sum(w2 * w2) * b2, argnums: [1, 0])(w, b);
        Assert.Equal(5.0, ((Tensor)g[0]!).Item<double>(), 12);
        Assert.Equal(new double[] { 1, 2 }, ((Tensor)g[1]!).ToArray<double>());
        var tg = Grad(((Tensor A, Tensor B) p) => Np.Sum(p.A * p.B))((w, w * 3));
        Assert.Equal(new double[] { 3, 6 }, tg.A.ToArray<double>());
        Assert.Equal(new double[] { 1, 2 }, tg.B.ToArray<double>());
    }

    [Fact]
    public void HasAuxReturnsAuxUndifferentiated()
    {
        var (g, aux) = Grad((Tensor x) => (Np.Sum(x * x), x * 10), hasAux: true)(Np.Array(new double[] { 1, 2 }));
        Assert.Equal(new double[] { 2, 4 }, g.ToArray<double>());
        Assert.Equal(new double[] { 10, 20 }, aux.ToArray<double>());
    }

    [Fact]
    public void GradErrorsAreTypedAndExplain()
    {
        var e1 = Assert.Throws<ShapeError>(() => Grad((Tensor x) => x * 2)(Np.Ones([3])));
        Assert.Contains("scalar-output", e1.Message);
        var e2 = Assert.Throws<DTypeError>(() => Grad((Tensor x) => x.AsType(DType.Float32).Sum())(Np.Arange(3)));
        Assert.Contains("int32", e2.Message);
        var e3 = Assert.Throws<InvalidArgumentError>(() => Grad((Tensor a, Tensor b) => (a * b).Sum(), argnums: [2])(Np.Ones([2]), Np.Ones([2])));
        Assert.Contains("out of range", e3.Message);
    }

    [Fact]
    public void EscapedTracerIsCaught()
    {
        Tensor? leaked = null;
        Grad((Tensor x) => { leaked = x * 2; return x.Sum(); })(Np.Ones([2]));
        var e = Assert.Throws<EscapedTracerError>(() => (leaked! + 1).ToString());
        Assert.Contains("unexpected tracer", e.Message);
    }

    [Fact]
    public void StopGradientBlocks()
    {
        var g = Grad((Tensor x) => Np.Sum(x * Lax.StopGradient(x)))(Np.Array(new double[] { 3 }));
        Assert.Equal(new double[] { 3 }, g.ToArray<double>());
    }

    [Fact]
    public void CustomJvpIsUsedByGradAndJvp()
    {
        var f = CustomJvp((Tensor x) => Np.Sin(x), (x, t) => (Np.Sin(x), t * 100));
        Assert.Equal(100.0, Grad((Tensor x) => f(x))(D(0.3)).Item<double>(), 12);
        Assert.Equal(200.0, Jvp(f, D(0.3), D(2.0)).Tangent.Item<double>(), 12);
        Assert.Equal(Math.Sin(0.3), f(D(0.3)).Item<double>(), 12);
    }

    [Fact]
    public void CustomVjpUsesBwdAndRefusesForwardMode()
    {
        var clip = CustomVjp((Tensor x) => x * 1.0, x => (x * 1.0, Np.ZerosLike(x)), (Tensor res, Tensor g) => Np.Clip(g, -1.0, 1.0));
        var g = Grad((Tensor x) => Np.Sum(clip(x) * 5.0))(Np.Array(new double[] { 1, 2 }));
        Assert.Equal(new double[] { 1, 1 }, g.ToArray<double>());
        Assert.Throws<NotDifferentiableError>(() => Jvp(clip, Np.Ones([2], DType.Float64), Np.Ones([2], DType.Float64)));
    }

    [Fact]
    public void CheckpointRecomputesInBackwardPass()
    {
        int calls = 0;
        var body = Checkpoint((Tensor x) => { calls++; return Np.Sin(x) * Np.Cos(x); });
        var g = Grad((Tensor x) => Np.Sum(body(x)))(Np.Array(new double[] { 0.1, 0.2 }));
        Assert.Equal(2, calls); // once forward, once recomputed for the backward pass
        var expected = new[] { Math.Cos(0.2), Math.Cos(0.4) };
        Assert.Equal(expected[0], g.ToArray<double>()[0], 12);
        Assert.Equal(expected[1], g.ToArray<double>()[1], 12);
    }

    [Fact]
    public void GradientsOfIndexingAndUpdates()
    {
        var x = Np.Array(new double[] { 1, 2, 3, 4 });
        var g = Grad((Tensor v) => Np.Sum(v[new[] { 0, 0, 3 }] * v[1..3].Sum()))(x);
        // d/dv of (v0+v0+v3)*(v1+v2) = [2(v1+v2), (2v0+v3), (2v0+v3), (v1+v2)]
        Assert.Equal(new double[] { 10, 6, 6, 5 }, g.ToArray<double>());
        var g2 = Grad((Tensor v) => Np.Sum(v.At[1].Set(v[0] * 10) * Np.Array(new double[] { 1, 2, 3, 4 })))(x);
        Assert.Equal(new double[] { 21, 0, 3, 4 }, g2.ToArray<double>());
    }

    [Fact]
    public void ForwardOverReverseThroughReductionsAndShapes()
    {
        Func<Tensor, Tensor> f = x => Np.Sum(Np.Max(x.Reshape(2, 2), 1) * Np.Prod(x)) + Np.Mean(Np.Exp(x.T));
        var x = Np.Array(new double[] { 0.5, 1.5, -0.3, 2.0 });
        var h = Hessian(f)(x);
        var ht = Np.Transpose(h);
        Assert.True(Np.AllClose(h, ht, 1e-10, 1e-10));
    }
}
