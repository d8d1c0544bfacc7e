using static Jx.Transforms;

namespace Jx.Tests;

public class CheckGradsTests
{
    [Fact]
    public void PassesForCorrectDerivativesToOrderTwo()
    {
        CheckGrads((Tensor x) => Np.Sin(x) * Np.Exp(x) / (1 + x * x), Np.Array(new[] { 0.3, -1.2, 2.0 }), order: 2);
        CheckGrads(((Tensor A, Tensor B) p) => Np.Tanh(p.A.Matmul(p.B)).Sum(),
            (Np.Array(new double[,] { { 0.1, 0.2 }, { -0.3, 0.4 } }), Np.Array(new double[,] { { 0.5 }, { -0.6 } })), order: 2);
    }

    [Fact]
    public void ReportsWrongCustomDerivativeWithInputOrderAndMode()
    {
        var wrong = CustomJvp((Tensor x) => Np.Sin(x), (x, t) => (Np.Sin(x), t * Np.Cos(x) * 1.01));
        var e = Assert.Throws<GradientCheckError>(() => CheckGrads(wrong, Np.Array(new[] { 0.5, 1.0 }), order: 1, modes: GradModes.Fwd));
        Assert.Contains("JVP tangent of output 0", e.Message);
        Assert.Contains("order 1, forward mode", e.Message);
        Assert.Contains("input 0", e.Message);
        Assert.Contains("float64 tolerance 1E-05", e.Message);
        var e2 = Assert.Throws<GradientCheckError>(() => CheckGrads(wrong, Np.Array(new[] { 0.5, 1.0 }), order: 1, modes: GradModes.Rev));
        Assert.Contains("VJP cotangent projection", e2.Message);
    }

    [Fact]
    public void NamesTheFailingInputAmongSeveral()
    {
        var wrong = CustomJvp((Tensor x) => Np.Exp(x), (x, t) => (Np.Exp(x), t * Np.Exp(x) * 2));
        var e = Assert.Throws<GradientCheckError>(() =>
            CheckGrads(((Tensor A, Tensor B) p) => Np.Sum(p.A * 3) + Np.Sum(wrong(p.B)), (Np.Array(new[] { 1.0 }), Np.Array(new[] { 0.2, 0.1 })), order: 1, modes: GradModes.Fwd));
        Assert.Contains("input 1", e.Message);
    }

    [Fact]
    public void SecondOrderErrorIsReportedAsJvpOfJvp()
    {
        // First derivative right, second derivative wrong: the custom rule's tangent uses a constant slope.
        var f = CustomJvp((Tensor x) => x * x * x, (x, t) => (x * x * x, t * 3 * Lax.StopGradient(x * x)));
        CheckGrads(f, Np.Array(new[] { 0.7 }), order: 1);
        var e = Assert.Throws<GradientCheckError>(() => CheckGrads(f, Np.Array(new[] { 0.7 }), order: 2, modes: GradModes.Fwd));
        Assert.Contains("JVP of JVP", e.Message);
    }
}
