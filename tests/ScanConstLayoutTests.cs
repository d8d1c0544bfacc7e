using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>A product in a scan body that reads a loop constant in a non-plain layout (δ·Whᵀ in a backward pass) reads a
/// copy transposed once before the loop, with renumbered dimension numbers; the results are unchanged.</summary>
public class ScanConstLayoutTests
{
    private static readonly Tensor W = Random.Normal(Random.Key(1), [3, 4]) * 0.5f;   // read as [out=3, in=4]: c·Wᵀ
    private static readonly Tensor Xs = Random.Normal(Random.Key(2), [6, 2, 3]);
    private static readonly Tensor C0 = Random.Normal(Random.Key(3), [2, 4]);
    private static readonly DotDimensionNumbers ContractLast = new([1], [1], [], []);

    // c' = tanh(c·Wᵀ·… ) with W [3, 4] contracted on its last axis: the rhs layout is (free, contract), BLAS's NT case.
    private static (Tensor, Tensor) Rnn(Tensor c0, Tensor w, Tensor xs) =>
        Lax.Scan((Tensor c, Tensor x) =>
        {
            var h = Np.Tanh(Np.DotGeneral(c, w, ContractLast) + x);            // [2, 3]
            return (Np.Tanh(h.Matmul(w)), h.Sum());                             // [2, 4]
        }, c0, xs);

    [Fact]
    public void TheConstantIsTransposedOnceBeforeTheLoopAndTheProductReadsItPlain()
    {
        var jf = Jit<Tensor, Tensor, Tensor, (Tensor, Tensor)>(Rnn);
        var text = jf.Lower(C0, W, Xs).OptimizedJaxpr;
        int transposeAt = text.IndexOf("transpose[permutation=(1, 0)]", StringComparison.Ordinal);
        int scanAt = text.IndexOf("scan[", StringComparison.Ordinal);
        Assert.True(transposeAt >= 0 && transposeAt < scanAt, text);
        // In the body, both products (the rewritten one and h·W) contract the rhs's first axis; none reads W transposed.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(text[scanAt..], @"dot_general\[dimension_numbers=\(\(\(1,\), \(0,\)\), \(\(\), \(\)\)\)").Count);
        Assert.DoesNotContain("dot_general[dimension_numbers=(((1,), (1,))", text[scanAt..]);
        var (cj, yj) = jf(C0, W, Xs);
        var (ce, ye) = Rnn(C0, W, Xs);
        Assert.True(Np.AllClose(cj, ce, 1e-5, 1e-6));
        Assert.True(Np.AllClose(yj, ye, 1e-5, 1e-5));
    }

    [Fact]
    public void AConstantReadTheSameWayByTwoProductsIsTransposedOnce()
    {
        Func<Tensor, Tensor, Tensor, Tensor> f = (c0, w, xs) => Lax.Scan((Tensor c, Tensor x) =>
        {
            var a = Np.DotGeneral(c, w, ContractLast);
            var b = Np.DotGeneral(c * 2f, w, ContractLast);
            return (c, (a * b + x).Sum());
        }, c0, xs).Ys;
        var jf = Jit(f);
        var text = jf.Lower(C0, W, Xs).OptimizedJaxpr;
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, @"transpose\["));
        Assert.True(Np.AllClose(jf(C0, W, Xs), f(C0, W, Xs), 1e-5, 1e-5));
    }

    [Fact]
    public void BatchedAndLhsConstantsAreMadePlainToo()
    {
        // rhs [2 (batch), 5 (free), 3 (contract)] → permutation (0, 2, 1); lhs [4 (contract), 6 (free)] → (1, 0).
        var wb = Random.Normal(Random.Key(4), [2, 5, 3]);
        var wl = Random.Normal(Random.Key(5), [4, 6]);
        var xs = Random.Normal(Random.Key(6), [5, 2, 4, 3]);
        Func<Tensor, Tensor, Tensor, Tensor> f = (b, l, seq) => Lax.Scan((Tensor c, Tensor x) =>
        {
            var batched = Np.DotGeneral(x, b, new DotDimensionNumbers([2], [2], [0], [0]));   // [2, 4, 5]
            var left = Np.DotGeneral(l, x, new DotDimensionNumbers([0], [1], [], []));          // [6, 2, 3]
            return (c + batched.Sum() * 0.01f, left.Sum() + batched.Mean());
        }, Tensor.Scalar(0f), seq).Ys;
        var jf = Jit(f);
        var text = jf.Lower(wb, wl, xs).OptimizedJaxpr;
        Assert.Contains("transpose[permutation=(0, 2, 1)]", text);
        Assert.Contains("transpose[permutation=(1, 0)]", text);
        Assert.True(Np.AllClose(jf(wb, wl, xs), f(wb, wl, xs), 1e-5, 1e-5));
    }

    [Fact]
    public void TheBackwardPassOfARecurrentCellReadsWhPlainAndItsGradientsMatchEager()
    {
        // The forward cell reads Wh plain (h·Wh); only the backward pass's δ·Whᵀ reads it transposed.
        var wh = Random.Normal(Random.Key(7), [4, 4]) * 0.4f;
        var xs = Random.Normal(Random.Key(8), [6, 2, 4]);
        Func<Tensor, Tensor, Tensor> loss = (w, seq) =>
            Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h.Matmul(w) + x); return (n, n.Sum()); }, C0, seq).Ys.Sum();
        Assert.DoesNotContain("transpose[", Jit(loss).Lower(wh, xs).OptimizedJaxpr);
        var g = Jit(Grad<Tensor, Tensor>(loss));
        var text = g.Lower(wh, xs).OptimizedJaxpr;
        int transposeAt = text.IndexOf("transpose[permutation=(1, 0)]", StringComparison.Ordinal);
        int lastScan = text.LastIndexOf("scan[", StringComparison.Ordinal);
        Assert.True(transposeAt >= 0 && transposeAt < lastScan, text);
        Assert.DoesNotContain("dot_general[dimension_numbers=(((1,), (1,))", text[lastScan..]);
        Assert.True(Np.AllClose(g(wh, xs), Grad<Tensor, Tensor>(loss)(wh, xs), 1e-5, 1e-5));
    }
}
