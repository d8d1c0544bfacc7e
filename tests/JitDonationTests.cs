using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Donated inputs reused for outputs (donateArgnums): an output is written into a donated input's array when
/// that is safe, and never when a later read, a non-identity read, an aliasing argument or a captured constant would
/// see the overwritten values.</summary>
public class JitDonationTests
{
    private static Array ArrayOf(Tensor t) => t.Buffer!.RawArray();

    [Fact]
    public void ElementwiseUpdateIsWrittenIntoTheDonatedArray()
    {
        var f = Jit((Tensor x, Tensor g) => x - 0.1f * g, donateArgnums: [0]);
        var x = Random.Normal(Random.Key(0), [1000]);
        var g = Random.Normal(Random.Key(1), [1000]);
        var expected = (x - 0.1f * g).ToArray<float>();
        var storage = ArrayOf(x);
        var y = f(x, g);
        Assert.Same(storage, ArrayOf(y));
        Assert.Equal(expected, y.ToArray<float>());
        Assert.Throws<DonatedBufferError>(() => x.ToArray<float>());
        Assert.NotSame(ArrayOf(g), ArrayOf(y));
    }

    [Fact]
    public void ATransposedReadIsNeverOverwrittenInPlace()
    {
        // Writing x.T + 1 over x while reading x transposed would read already-written elements.
        var f = Jit((Tensor x) => x.T + 1f, donateArgnums: [0]);
        var x = Random.Normal(Random.Key(2), [64, 64]);
        var expected = (x.T + 1f).ToArray<float>();
        var storage = ArrayOf(x);
        var y = f(x);
        Assert.NotSame(storage, ArrayOf(y));
        Assert.Equal(expected, y.ToArray<float>());
    }

    [Fact]
    public void AnInputReadAfterTheOutputIsWrittenIsNotReused()
    {
        // y = exp(x) is written first; the product reads x afterwards, so y must not take x's array.
        var f = Jit((Tensor x, Tensor w) => (Np.Exp(x), x.Matmul(w)), donateArgnums: [0]);
        var x = Random.Normal(Random.Key(3), [32, 32]);
        var w = Random.Normal(Random.Key(4), [32, 32]);
        var (e0, p0) = (Np.Exp(x).ToArray<float>(), x.Matmul(w).ToArray<float>());
        var (e, p) = f(x, w);
        Assert.True(Np.AllClose(e, Tensor.FromArray(e0).Reshape([32, 32]), 1e-6, 1e-6));
        Assert.True(Np.AllClose(p, Tensor.FromArray(p0).Reshape([32, 32]), 1e-5, 1e-5));
    }

    [Fact]
    public void TheSameArrayPassedTwiceIsNotReused()
    {
        var f = Jit((Tensor a, Tensor b) => (a + 1f, b * 2f), donateArgnums: [0, 1]);
        var x = Random.Normal(Random.Key(5), [100]);
        var (plus, twice) = ((x + 1f).ToArray<float>(), (x * 2f).ToArray<float>());
        var (y1, y2) = f(x, x);
        Assert.Equal(plus, y1.ToArray<float>());
        Assert.Equal(twice, y2.ToArray<float>());
        Assert.NotSame(ArrayOf(y1), ArrayOf(y2));
    }

    [Fact]
    public void ACapturedConstantIsNeverOverwritten()
    {
        var c = Random.Normal(Random.Key(6), [100]);
        var cValues = c.ToArray<float>();
        var f = Jit((Tensor x) => x + c, donateArgnums: [0]);
        var other = Random.Normal(Random.Key(7), [100]);
        var expected = other.ToArray<float>().Select((v, i) => v + cValues[i]).ToArray();
        var doubled = f(Tensor.FromArray(cValues)); // a separate array: may be reused
        Assert.Equal(cValues.Select(v => v + v).ToArray(), doubled.ToArray<float>());
        Assert.Equal(expected, f(other).ToArray<float>());
        // Donating the captured tensor itself: the program still reads it as a constant, so it keeps its array and the
        // answer is right; but the tensor is given up, so later calls of the program that captured it fail loudly (as a
        // deleted array does in JAX) instead of reading an array that another program might have overwritten.
        var alias = f(c);
        Assert.Equal(cValues.Select(v => v + v).ToArray(), alias.ToArray<float>());
        var fresh = Random.Normal(Random.Key(15), [100]); // not donated itself: the error is about the constant
        var e = Assert.Throws<DonatedBufferError>(() => f(fresh));
        Assert.Contains("constant captured", e.Message);
    }

    [Fact]
    public void AConstantOutputIsACopySoDonatingItElsewhereCannotChangeIt()
    {
        var w = Random.Normal(Random.Key(11), [50]);
        var f = Jit((Tensor x) => (x + 1f, w * 2f)); // w·2 folds into a constant of the program
        var g = Jit((Tensor v) => v + 1f, donateArgnums: [0]);
        var x = Random.Normal(Random.Key(12), [50]);
        var twice = (w * 2f).ToArray<float>();
        var first = f(x).Item2;
        var bumped = g(first); // may write into first's array
        Assert.Equal(twice.Select(v => v + 1f).ToArray(), bumped.ToArray<float>());
        Assert.Equal(twice, f(x).Item2.ToArray<float>());
    }

    [Fact]
    public void ADonatedInputReturnedUnchangedStaysUsableAsTheOutput()
    {
        var f = Jit(((Tensor P, Tensor Lr) s) => (s.P - s.Lr, s.Lr), donateArgnums: [0]);
        var p = Random.Normal(Random.Key(13), [20]);
        var lr = Random.Normal(Random.Key(14), [20]);
        var (pv, lv) = (p.ToArray<float>(), lr.ToArray<float>());
        var (p2, lr2) = f((p, lr));
        Assert.Equal(lv, lr2.ToArray<float>());
        Assert.Equal(pv.Select((v, i) => v - lv[i]).ToArray(), p2.ToArray<float>());
        Assert.Throws<DonatedBufferError>(() => lr.ToArray<float>()); // the input itself is given up
        var (p3, _) = f((p2, lr2)); // and the output can be donated in turn
        Assert.Equal(pv.Select((v, i) => v - lv[i] - lv[i]).ToArray(), p3.ToArray<float>());
    }


    [Fact]
    public void OptimizerStateUpdatesInPlaceAndMatchesEager()
    {
        Func<(Tensor P, Tensor M), Tensor, (Tensor, Tensor)> step = (s, g) =>
        {
            var m2 = 0.9f * s.M + g;
            return (s.P - 0.1f * m2, m2);
        };
        var f = Jit(step, donateArgnums: [0]);
        var p = Random.Normal(Random.Key(8), [256, 32]);
        var m = Random.Normal(Random.Key(9), [256, 32]);
        for (int i = 0; i < 3; i++)
        {
            var g = Random.Normal(Random.Key(10 + i), [256, 32]);
            var (pe, me) = step((p, m), g);
            var (pExpected, mExpected) = (pe.ToArray<float>(), me.ToArray<float>());
            var storage = new[] { ArrayOf(p), ArrayOf(m) };
            (p, m) = f((p, m), g);
            Assert.True(Np.AllClose(p, Tensor.FromArray(pExpected).Reshape([256, 32]), 1e-6, 1e-6));
            Assert.True(Np.AllClose(m, Tensor.FromArray(mExpected).Reshape([256, 32]), 1e-6, 1e-6));
            Assert.Contains(ArrayOf(p), storage);
        }
    }
}
