using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Jacfwd, Jacrev and Hessian over pytrees: block (output leaf i, input leaf j) has shape
/// out_i.shape + in_j.shape and holds d out_i / d in_j, checked against analytic derivatives in float64.</summary>
public class PytreeJacobianTests
{
    private static Tensor A(params double[] v) => Np.Array(v);

    private static void Close(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.True(Np.AllClose(actual, expected, 1e-12, 1e-12), $"expected {expected}, got {actual}");
    }

    [Fact]
    public void TensorOutputOfAPytreeInput()
    {
        // f(W, b) = W·x + b with W [2,3], b [2]: d f / dW [2, 2,3] = δ_ik x_l, d f / db [2, 2] = I.
        var x = A(1, 2, 3);
        var w = Np.Array(new double[,] { { 0.5, -1, 2 }, { 1, 0, -0.5 } });
        var b = A(0.1, -0.2);
        Func<(Tensor W, Tensor B), Tensor> f = p => p.W.Matmul(x) + p.B;
        foreach (var jac in new[] { Jacfwd(f)((w, b)), Jacrev(f)((w, b)) })
        {
            var expectedW = new double[2, 2, 3];
            for (int i = 0; i < 2; i++) for (int l = 0; l < 3; l++) expectedW[i, i, l] = l + 1;
            Close(Np.Array(expectedW), jac.W);
            Close(Np.Eye(2, dtype: DType.Float64), jac.B);
        }
    }

    [Fact]
    public void PytreeOutputOfATensorInput()
    {
        var x = A(0.3, -1.2, 2.0);
        Func<Tensor, (Tensor S, Tensor Sum)> f = v => (Np.Sin(v), Np.Sum(v * v));
        foreach (var jac in new[] { Jacfwd(f)(x), Jacrev(f)(x) })
        {
            Close(Np.Eye(3, dtype: DType.Float64) * Np.Cos(x), jac.S);
            Close(x * 2, jac.Sum);
        }
    }

    [Fact]
    public void PytreeToPytreeBlocksInLeafOrder()
    {
        var a = A(1, 2);
        var c = A(3, -1, 0.5);
        Func<(Tensor A, Tensor C), (Tensor Outer, Tensor Total)> f = p => (Np.Outer(p.A, p.C), Np.Sum(p.A) * Np.Sum(p.C));
        foreach (var jac in new[] { JacfwdTree(f)((a, c)), JacrevTree(f)((a, c)) })
        {
            Assert.Equal(2, jac.Count);
            // d outer[i,j] / d a[k] = δ_ik c_j; d outer[i,j] / d c[k] = a_i δ_jk
            var dA = new double[2, 3, 2];
            var dC = new double[2, 3, 3];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) { dA[i, j, i] = c.ToArray<double>()[j]; dC[i, j, j] = a.ToArray<double>()[i]; }
            Close(Np.Array(dA), jac[0].A);
            Close(Np.Array(dC), jac[0].C);
            // d (Σa Σc) / d a = Σc, d / d c = Σa
            Close(Np.Full([2], 2.5, DType.Float64), jac[1].A);
            Close(Np.Full([3], 3.0, DType.Float64), jac[1].C);
        }
    }

    [Fact]
    public void HessianOfAPytreeFunction()
    {
        // f(W, b) = Σ W² b: d²f/dW² = 2 diag(b broadcast), d²f/dW db = 2 W δ, d²f/db² = 0.
        var w = Np.Array(new double[,] { { 1, 2 }, { 3, 4 } });
        var b = A(0.5, -1);
        var h = Hessian<(Tensor W, Tensor B)>(p => Np.Sum(p.W * p.W * p.B))((w, b));
        Assert.Equal(2, h.Count);
        var hww = new double[2, 2, 2, 2];
        var hwb = new double[2, 2, 2];
        var hbw = new double[2, 2, 2];
        var wv = w.ToArray<double>();
        var bv = b.ToArray<double>();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                hww[i, j, i, j] = 2 * bv[j];
                hwb[i, j, j] = 2 * wv[i * 2 + j];
                hbw[j, i, j] = 2 * wv[i * 2 + j];
            }
        Close(Np.Array(hww), h[0].W);
        Close(Np.Array(hwb), h[0].B);
        Close(Np.Array(hbw), h[1].W);
        Close(Np.Zeros([2, 2], DType.Float64), h[1].B);
    }

    [Fact]
    public void JacobianOfAGradientPytreeUnderGradAndMixedDtypes()
    {
        // A float32 leaf next to a float64 one: as in JAX, reverse-mode blocks have the input leaf's dtype, forward-mode
        // blocks the output's.
        var w32 = Np.Array(new float[] { 1, 2 });
        var v64 = A(3, 4);
        var jac = Jacrev<(Tensor W, Tensor V)>(p => Np.Sum(p.W) * p.V)((w32, v64));
        Assert.Equal(DType.Float32, jac.W.DType);
        Assert.Equal(DType.Float64, Jacfwd<(Tensor W, Tensor V)>(p => Np.Sum(p.W) * p.V)((w32, v64)).W.DType);
        Close(Np.Array(new double[,] { { 3, 3 }, { 4, 4 } }), jac.W.AsType(DType.Float64));
        Close(Np.Eye(2, dtype: DType.Float64) * 3, jac.V);
        // Grad through a pytree Jacobian: d/dx Σ_ij J_ij where J = Jacfwd of (x ↦ (x², Σx)) is d/dx (Σ 2x + n) = 2.
        var g = Grad((Tensor x) =>
        {
            var j = Jacfwd((Tensor v) => (v * v, Np.Sum(v)))(x);
            return Np.Sum(j.Item1) + Np.Sum(j.Item2);
        })(A(0.5, -2, 3));
        Close(Np.Full([3], 2.0, DType.Float64), g);
    }

    [Fact]
    public void IntegerLeavesAreRejectedWithTheirShape()
    {
        var e = Assert.Throws<DTypeError>(() => Jacrev<(Tensor, Tensor)>(p => Np.Sum(p.Item1))((A(1), Np.Array(new[] { 1, 2 }))));
        Assert.Contains("int32", e.Message);
    }
}
