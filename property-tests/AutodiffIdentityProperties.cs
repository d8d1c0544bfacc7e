using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using static Jx.Transforms;

namespace Jx.PropertyTests;

/// <summary>Identities every correct autodiff satisfies, on random compositions of tensor functions (pipelines of
/// elementwise maps, reductions, reshapes, slicing, padding, indexing, scatters and matmuls).</summary>
public class AutodiffIdentityProperties
{
    private static readonly string[] AllStages = Stages.Names(StageKind.Linear | StageKind.Smooth | StageKind.NonSmooth);
    private static readonly string[] SmoothStages = Stages.Names(StageKind.Smooth);
    private static readonly string[] LinearStages = Stages.Names(StageKind.Linear);

    /// <summary>Forward and reverse mode compute the same Jacobian (to 1e-10), kinks and ties included: both apply the
    /// same rule at a tie, so they must agree exactly where finite differences could not be used.</summary>
    [Fact]
    public void JacfwdEqualsJacrev()
    {
        Prop.ForAll(PipelineCase.Arbitrary(AllStages, linear: false), c =>
        {
            var x = c.X;
            Close(Jacfwd(c.F)(x), Jacrev(c.F)(x), 1e-10, "Jacfwd", "Jacrev");
        }).Check(PropConfig.Cases(40));
    }

    /// <summary>Pytree Jacobians agree with the tensor ones block by block: for G(A, B) = (F(A + B), Σ B · S(A)), the blocks
    /// d G₀/dA and d G₀/dB both equal Jacfwd(F) at A + B, forward and reverse mode give the same blocks, and
    /// d G₁/dA = Σ B · ∇S(A).</summary>
    [Fact]
    public void PytreeJacobianBlocksEqualTensorJacobians()
    {
        Prop.ForAll(PipelineCase.Arbitrary(AllStages, linear: false, maxStages: 3), c =>
        {
            var a = c.X;
            var b = c.Random(a.Shape, 3);
            Func<(Tensor A, Tensor B), (Tensor F, Tensor S)> g = p => (c.F(p.A + p.B), Np.Sum(p.B) * c.Scalar(p.A));
            var fwd = JacfwdTree(g)((a, b));
            var rev = JacrevTree(g)((a, b));
            var jf = Jacfwd(c.F)(a + b);
            Close(fwd[0].A, jf, 1e-10, "dG0/dA", "Jacfwd(F)(A+B)");
            Close(fwd[0].B, jf, 1e-10, "dG0/dB", "Jacfwd(F)(A+B)");
            Close(fwd[1].A, Np.Sum(b) * Grad(c.Scalar)(a), 1e-10, "dG1/dA", "ΣB·∇S(A)");
            for (int i = 0; i < 2; i++)
            {
                Close(fwd[i].A, rev[i].A, 1e-10, $"JacfwdTree[{i}].A", $"JacrevTree[{i}].A");
                Close(fwd[i].B, rev[i].B, 1e-10, $"JacfwdTree[{i}].B", $"JacrevTree[{i}].B");
            }
        }).Check(PropConfig.Cases(25));
    }

    /// <summary>The Hessian (forward over reverse) is symmetric and equals reverse over forward.</summary>
    [Fact]
    public void HessianIsSymmetricAndEqualsReverseOverForward()
    {
        Prop.ForAll(PipelineCase.Arbitrary(AllStages, linear: false, maxStages: 3), c =>
        {
            var x = c.X;
            int n = x.Size;
            var h = Hessian(c.Scalar)(x);
            Assert.Equal(new Shape([.. x.Shape, .. x.Shape]), h.Shape);
            var hm = Lax.Reshape(h, new Shape(n, n));
            Close(hm, Np.Transpose(hm), 1e-10, "H", "transpose(H)");
            var rof = Jacrev(Jacfwd(c.Scalar))(x);
            Close(h, rof, 1e-10, "Hessian = Jacfwd(Jacrev(f))", "Jacrev(Jacfwd(f))");
        }).Check(PropConfig.Cases(25));
    }

    /// <summary>For a linear f(x) = A·x (built from matmuls, slices, pads, transposes, sums, gathers, scatters, ...),
    /// the pullback is the transpose: ⟨pullback(c), t⟩ = ⟨c, f(t)⟩ and pullback(c) = Aᵀc with A materialized column by
    /// column; the JVP and Linearize at any point are f itself.</summary>
    [Fact]
    public void VjpOfLinearFunctionIsItsTranspose()
    {
        Prop.ForAll(PipelineCase.Arbitrary(LinearStages, linear: true, maxStages: 4), c =>
        {
            var x = c.X;
            var (y, pullback) = Vjp(c.F, x);
            var t = c.Random(x.Shape, 1);
            var ct = c.Random(y.Shape, 2);
            var g = pullback(ct);
            Assert.Equal(x.Shape, g.Shape);

            // ⟨pullback(c), t⟩ = ⟨c, f(t)⟩
            var ft = c.F(t);
            double lhs = Dot(g, t), rhs = Dot(ct, ft);
            double scale = 1 + AbsDot(g, t) + AbsDot(ct, ft);
            Assert.True(Math.Abs(lhs - rhs) <= 1e-12 * scale,
                $"<pullback(c), t> = {lhs:R} but <c, f(t)> = {rhs:R} (|difference| {Math.Abs(lhs - rhs):G3})");

            // pullback(c) = Aᵀc with A's columns f(e_j).
            int n = x.Size, m = y.Size;
            var cv = ct.ToDoubleArray();
            var expected = new double[n];
            for (int j = 0; j < n; j++)
            {
                var e = new double[n];
                e[j] = 1;
                var col = c.F(Tensor.FromArray(e, x.Shape)).ToDoubleArray();
                Assert.Equal(m, col.Length);
                for (int i = 0; i < m; i++) expected[j] += col[i] * cv[i];
            }
            Close(g, Tensor.FromArray(expected, x.Shape), 1e-12, "pullback(c)", "Aᵀc");

            // A linear function is its own JVP and linearization, at any point.
            Close(Jvp(c.F, x, t).Tangent, ft, 1e-12, "Jvp(f, x, t).Tangent", "f(t)");
            Close(Linearize<Tensor, Tensor>(c.F, x).Jvp(t), ft, 1e-12, "Linearize(f, x)(t)", "f(t)");
            Close(y, c.F(x), 1e-12, "Vjp primal output", "f(x)");
        }).Check(PropConfig.Cases(60));
    }

    /// <summary>Grad of sum(w ⊙ f(x)) for smooth compositions equals the central finite-difference gradient.</summary>
    [Fact]
    public void GradEqualsCentralFiniteDifferences()
    {
        Prop.ForAll(PipelineCase.Arbitrary(SmoothStages, linear: false), c =>
        {
            var x = c.X;
            var g = Grad(c.Scalar)(x);
            Close(g, FiniteDifferenceGradient(c.Scalar, c.Values, x.Shape), atol: 1e-6, rtol: 1e-5, "Grad", "central differences");
        }).Check(PropConfig.Cases(40));
    }

    // ------------------------------------------------------------------------------------------------------------

    /// <summary>The central finite-difference gradient of a scalar function (step 1e-6; float64).</summary>
    internal static Tensor FiniteDifferenceGradient(Func<Tensor, Tensor> f, double[] x, Shape shape, double eps = 1e-6)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            var p = (double[])x.Clone(); p[i] += eps;
            var q = (double[])x.Clone(); q[i] -= eps;
            g[i] = (f(Tensor.FromArray(p, shape)).Item<double>() - f(Tensor.FromArray(q, shape)).Item<double>()) / (2 * eps);
        }
        return Tensor.FromArray(g, shape);
    }

    private static double Dot(Tensor a, Tensor b) => a.ToDoubleArray().Zip(b.ToDoubleArray(), (p, q) => p * q).Sum();
    private static double AbsDot(Tensor a, Tensor b) => a.ToDoubleArray().Zip(b.ToDoubleArray(), (p, q) => Math.Abs(p * q)).Sum();

    /// <summary>Elementwise |a − b| ≤ tol·max(1, max|b|), reporting the first index that differs.</summary>
    internal static void Close(Tensor a, Tensor b, double tol, string aName, string bName)
    {
        var scale = Math.Max(1, b.ToDoubleArray().Select(Math.Abs).DefaultIfEmpty(0).Max());
        Close(a, b, tol * scale, 0, aName, bName);
    }

    /// <summary>Elementwise |a − b| ≤ atol + rtol·|b|, reporting the first index that differs.</summary>
    internal static void Close(Tensor a, Tensor b, double atol, double rtol, string aName, string bName)
    {
        Assert.True(a.Shape == b.Shape, $"{aName} has shape {a.Shape} but {bName} has shape {b.Shape}");
        Assert.True(a.DType == b.DType, $"{aName} has dtype {a.DType.Name()} but {bName} has dtype {b.DType.Name()}");
        var x = a.ToDoubleArray();
        var y = b.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
            if (!(Math.Abs(x[i] - y[i]) <= atol + rtol * Math.Abs(y[i])))
                Assert.Fail($"{aName} and {bName} differ at flat index {i} of shape {a.Shape}: {x[i].ToString("R", CultureInfo.InvariantCulture)} vs " +
                            $"{y[i].ToString("R", CultureInfo.InvariantCulture)} (|difference| {Math.Abs(x[i] - y[i]):G3} > {atol + rtol * Math.Abs(y[i]):G3})\n" +
                            $"{aName} = {Fmt.Tensor(x, a.Shape)}\n{bName} = {Fmt.Tensor(y, b.Shape)}");
    }
}
