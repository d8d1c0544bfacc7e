namespace Jx.Tests;

public class RandomTests
{
    private static uint[] U(Tensor t) => t.ToArray<uint>();

    // ----- threefry2x32 -----

    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6b200159u, 0x99ba4efeu)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x1cb996fcu, 0xbb002be7u)]
    [InlineData(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u, 0xc4923a9cu, 0x483df7a0u)]
    public void ThreefryMatchesTheKnownAnswerVectors(uint k1, uint k2, uint x1, uint x2, uint y1, uint y2)
    {
        Assert.Equal((y1, y2), RandomBits.Hash(k1, k2, x1, x2));
        var t = (uint v) => Tensor.FromArray(new[] { v });
        var outs = RandomBits.Threefry2x32.Bind([t(k1), t(k2), t(x1), t(x2)]);
        Assert.Equal(new[] { y1 }, U(outs[0]));
        Assert.Equal(new[] { y2 }, U(outs[1]));
    }

    [Fact]
    public void ThreefryPrimitiveIsElementwiseOverArrays()
    {
        var k1 = Tensor.FromArray(new uint[] { 0, 0xffffffff, 0x13198a2e });
        var k2 = Tensor.FromArray(new uint[] { 0, 0xffffffff, 0x03707344 });
        var x1 = Tensor.FromArray(new uint[] { 0, 0xffffffff, 0x243f6a88 });
        var x2 = Tensor.FromArray(new uint[] { 0, 0xffffffff, 0x85a308d3 });
        var outs = RandomBits.Threefry2x32.Bind([k1, k2, x1, x2]);
        Assert.Equal(new uint[] { 0x6b200159, 0x1cb996fc, 0xc4923a9c }, U(outs[0]));
        Assert.Equal(new uint[] { 0x99ba4efe, 0xbb002be7, 0x483df7a0 }, U(outs[1]));
    }

    [Fact]
    public void ThreefryVectorLanesEqualTheScalarHash()
    {
        // 37 elements: two full 16-lane vectors and a scalar tail; the known-answer triples land in both parts.
        var rng = new System.Random(5);
        uint[] Words() => Enumerable.Range(0, 37).Select(_ => (uint)rng.NextInt64(0, 1L << 32)).ToArray();
        uint[] k1 = Words(), k2 = Words(), x1 = Words(), x2 = Words();
        (k1[3], k2[3], x1[3], x2[3]) = (0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3);
        (k1[35], k2[35], x1[35], x2[35]) = (0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff);
        var outs = RandomBits.Threefry2x32.Bind([Tensor.FromArray(k1), Tensor.FromArray(k2), Tensor.FromArray(x1), Tensor.FromArray(x2)]);
        var (y1, y2) = (U(outs[0]), U(outs[1]));
        for (int i = 0; i < 37; i++)
            Assert.Equal(RandomBits.Hash(k1[i], k2[i], x1[i], x2[i]), (y1[i], y2[i]));
        Assert.Equal((0xc4923a9cu, 0x483df7a0u), (y1[3], y2[3]));
        Assert.Equal((0x1cb996fcu, 0xbb002be7u), (y1[35], y2[35]));
        // splat key words (how Random calls it) read the same value in every lane
        var splat = RandomBits.Threefry2x32.Bind([Np.Full([37], 7u, DType.UInt32), Np.Full([37], 9u, DType.UInt32), Tensor.FromArray(x1), Tensor.FromArray(x2)]);
        for (int i = 0; i < 37; i++) Assert.Equal(RandomBits.Hash(7, 9, x1[i], x2[i]).Y1, U(splat[0])[i]);
    }

    [Fact]
    public void ThreefryRejectsBadOperands()
    {
        var u = Tensor.FromArray(new uint[] { 1, 2 });
        Assert.Throws<DTypeError>(() => RandomBits.Threefry2x32.Bind([u, u, u, Tensor.FromArray(new[] { 1, 2 })]));
        Assert.Throws<ShapeError>(() => RandomBits.Threefry2x32.Bind([u, u, u, Tensor.FromArray(new uint[] { 1 })]));
        Assert.Throws<InvalidArgumentError>(() => RandomBits.Threefry2x32.Bind([u, u, u]));
    }

    // ----- keys -----

    [Fact]
    public void KeyLayoutIsHighWordThenLowWord()
    {
        Assert.Equal(new uint[] { 0, 0 }, U(Random.Key(0)));
        Assert.Equal(new uint[] { 0, 42 }, U(Random.Key(42)));
        Assert.Equal(new Shape(2), Random.Key(42).Shape);
        Assert.Equal(DType.UInt32, Random.Key(42).DType);
        Assert.Equal(new uint[] { 0, 42 }, U(Random.Key(42L)));
        // A 32-bit seed is padded with a zero high word (JAX's default mode); a 64-bit seed is split.
        Assert.Equal(new uint[] { 0, 0xffffffff }, U(Random.Key(-1)));
        Assert.Equal(new uint[] { 0xffffffff, 0xffffffff }, U(Random.Key(-1L)));
        Assert.Equal(new uint[] { 1, 7 }, U(Random.Key((1L << 32) | 7)));
        Assert.Equal(new uint[] { 0, 42 }, U(Random.Key(Tensor.Scalar(42))));
        Assert.Equal(new uint[] { 0, 0xffffffff }, U(Random.Key(Tensor.Scalar(-1))));
        Assert.Equal(new uint[] { 1, 7 }, U(Random.Key(Tensor.Scalar((1L << 32) | 7))));
    }

    [Fact]
    public void SplitMatchesJax()
    {
        var ks = Random.Split(Random.Key(0));
        Assert.Equal(new Shape(2, 2), ks.Shape);
        Assert.Equal(new uint[] { 1797259609, 2579123966, 928981903, 3453687069 }, U(ks));
        // Partitionable split: row i is threefry(key, (0, i)), so a longer split extends a shorter one.
        var k3 = Random.Split(Random.Key(0), 3);
        Assert.Equal(new Shape(3, 2), k3.Shape);
        Assert.Equal(U(ks), U(k3)[..4]);
        var (a, b) = RandomBits.Hash(0, 0, 0, 2);
        Assert.Equal(new[] { a, b }, U(k3)[4..]);
        Assert.Equal(new Shape(0, 2), Random.Split(Random.Key(0), 0).Shape);
    }

    [Fact]
    public void FoldInIsThreefryOfZeroAndTheData()
    {
        var key = Random.Key(7);
        var f1 = Random.FoldIn(key, 1);
        var (a, b) = RandomBits.Hash(0, 7, 0, 1);
        Assert.Equal(new[] { a, b }, U(f1));
        Assert.Equal(U(f1), U(Random.FoldIn(key, 1)));
        Assert.Equal(U(f1), U(Random.FoldIn(key, Tensor.Scalar(1))));
        Assert.NotEqual(U(f1), U(Random.FoldIn(key, 2)));
        Assert.NotEqual(U(f1), U(key));
        Assert.Equal(new Shape(2), f1.Shape);
        var (c, d) = RandomBits.Hash(0, 7, 0, 0xffffffff);
        Assert.Equal(new[] { c, d }, U(Random.FoldIn(key, -1)));
    }

    [Fact]
    public void BitsAreTheXorOfBothThreefryWords()
    {
        var bits = U(Random.Bits(Random.Key(0), [2, 3]));
        Assert.Equal(6, bits.Length);
        for (uint i = 0; i < 6; i++)
        {
            var (a, b) = RandomBits.Hash(0, 0, 0, i);
            Assert.Equal(a ^ b, bits[i]);
        }
        var (s1, s2) = RandomBits.Hash(0, 0, 0, 0);
        Assert.Equal(new[] { s1 ^ s2 }, U(Random.Bits(Random.Key(0))));
    }

    // ----- uniform -----

    [Fact]
    public void UniformMatchesJax()
    {
        var u = Random.Uniform(Random.Key(0), [3]);
        Assert.Equal(DType.Float32, u.DType);
        var v = u.ToArray<float>();
        float[] expected = [0.947667f, 0.9785799f, 0.33229148f];
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], v[i], 1e-7f);
    }

    [Fact]
    public void UniformTakesTheTop23BitsAsTheMantissa()
    {
        var v = Random.Uniform(Random.Key(3), [5]).ToArray<float>();
        var bits = U(Random.Bits(Random.Key(3), [5]));
        for (int i = 0; i < 5; i++)
            Assert.Equal(BitConverter.Int32BitsToSingle((int)((bits[i] >> 9) | 0x3F800000)) - 1f, v[i]);
    }

    [Fact]
    public void UniformFloat64Uses52BitsOfBothWords()
    {
        var v = Random.Uniform(Random.Key(0), [4], DType.Float64).ToArray<double>();
        for (uint i = 0; i < 4; i++)
        {
            var (hi, lo) = RandomBits.Hash(0, 0, 0, i);
            ulong bits = ((ulong)hi << 32) | lo;
            double expected = BitConverter.Int64BitsToDouble((long)((bits >> 12) | 0x3FF0000000000000UL)) - 1.0;
            Assert.Equal(expected, v[(int)i]);
        }
    }

    [Fact]
    public void UniformHalfPrecisionUsesTheLowBitsAsJaxDoes()
    {
        var bits = U(Random.Bits(Random.Key(1), [64]));
        var h = Random.Uniform(Random.Key(1), [64], DType.Float16).ToDoubleArray();
        var bf = Random.Uniform(Random.Key(1), [64], DType.BFloat16).ToDoubleArray();
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(((bits[i] & 0xFFFF) >> 6) / 1024.0, h[i]);
            Assert.Equal(((bits[i] & 0xFF) >> 1) / 128.0, bf[i]);
        }
    }

    [Fact]
    public void UniformRespectsMinvalAndMaxval()
    {
        var x = Random.Uniform(Random.Key(5), [10000], minval: -3, maxval: 2).ToArray<float>();
        Assert.All(x, v => Assert.InRange(v, -3f, 2f));
        Assert.True(x.Max() < 2f);
        Assert.InRange(x.Average(), -0.6, -0.4);

        // Per-column bounds broadcast against the shape.
        var lo = Tensor.FromArray(new[] { 0f, 10f });
        var hi = Tensor.FromArray(new[] { 1f, 20f });
        var y = Random.Uniform(Random.Key(6), [500, 2], minval: lo, maxval: hi).ToArray<float>();
        for (int i = 0; i < y.Length; i++)
            Assert.InRange(y[i], i % 2 == 0 ? 0f : 10f, i % 2 == 0 ? 1f : 20f);
    }

    [Fact]
    public void UniformIsDeterministicPerKey()
    {
        Assert.Equal(Random.Uniform(Random.Key(9), [4]).ToArray<float>(), Random.Uniform(Random.Key(9), [4]).ToArray<float>());
        Assert.NotEqual(Random.Uniform(Random.Key(9), [4]).ToArray<float>(), Random.Uniform(Random.Key(10), [4]).ToArray<float>());
    }

    // ----- normal and friends -----

    private static (double Mean, double Std) Moments(Tensor t)
    {
        var d = t.ToDoubleArray();
        double mean = d.Average();
        return (mean, Math.Sqrt(d.Select(x => (x - mean) * (x - mean)).Average()));
    }

    [Fact]
    public void NormalHasMeanZeroAndUnitStd()
    {
        var x = Random.Normal(Random.Key(0), [100_000]);
        Assert.Equal(DType.Float32, x.DType);
        var (mean, std) = Moments(x);
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(std, 0.98, 1.02);
        Assert.All(x.ToArray<float>(), v => Assert.True(float.IsFinite(v)));

        var (m64, s64) = Moments(Random.Normal(Random.Key(1), [100_000], DType.Float64));
        Assert.InRange(m64, -0.02, 0.02);
        Assert.InRange(s64, 0.98, 1.02);
    }

    [Fact]
    public void NormalIsSqrt2TimesErfInvOfAUniformOnTheOpenInterval()
    {
        // u = floats * (1 - lo) + lo with lo = nextafter(-1, 0), as jax.random.normal draws it.
        float lo = MathF.BitIncrement(-1f);
        var bits = U(Random.Bits(Random.Key(2), [8]));
        var x = Random.Normal(Random.Key(2), [8]).ToArray<float>();
        for (int i = 0; i < 8; i++)
        {
            float f = BitConverter.Int32BitsToSingle((int)((bits[i] >> 9) | 0x3F800000)) - 1f;
            float u = MathF.Max(lo, f * (1f - lo) + lo);
            Assert.Equal((float)(Math.Sqrt(2) * Lax.ErfInv(Tensor.Scalar((double)u)).Item()), x[i], 1e-5f);
        }
    }

    [Fact]
    public void TruncatedNormalStaysInsideTheOpenInterval()
    {
        var x = Random.TruncatedNormal(Random.Key(0), -1, 2, [100_000]);
        Assert.Equal(new Shape(100_000), x.Shape);
        var v = x.ToArray<float>();
        Assert.All(v, s => Assert.True(s > -1f && s < 2f));
        // Mean of N(0, 1) truncated to (-1, 2): (φ(-1) − φ(2)) / (Φ(2) − Φ(-1)) ≈ 0.2296.
        Assert.InRange(v.Average(), 0.2096, 0.2496);

        // Shape defaults to the broadcast of the bounds.
        var lower = Tensor.FromArray(new[] { -0.5f, 0f, 1f });
        var y = Random.TruncatedNormal(Random.Key(1), lower, 1.5);
        Assert.Equal(new Shape(3), y.Shape);
        var yv = y.ToArray<float>();
        for (int i = 0; i < 3; i++) Assert.True(yv[i] > lower.ToArray<float>()[i] && yv[i] < 1.5f);
    }

    [Fact]
    public void GumbelHasItsKnownMean()
    {
        // E[Gumbel] = Euler–Mascheroni constant ≈ 0.5772.
        var (mean, _) = Moments(Random.Gumbel(Random.Key(4), [100_000]));
        Assert.InRange(mean, 0.5572, 0.5972);
    }

    // ----- discrete -----

    [Fact]
    public void BernoulliFrequencyMatchesP()
    {
        var b = Random.Bernoulli(Random.Key(0), 0.3, [100_000]);
        Assert.Equal(DType.Bool, b.DType);
        double freq = b.ToArray<bool>().Count(x => x) / 100_000.0;
        Assert.InRange(freq, 0.29, 0.31);

        // p per column, broadcast against the shape.
        var p = Tensor.FromArray(new[] { 0.1f, 0.9f });
        var c = Random.Bernoulli(Random.Key(1), p, [50_000, 2]).ToArray<bool>();
        double f0 = c.Where((_, i) => i % 2 == 0).Count(x => x) / 50_000.0;
        double f1 = c.Where((_, i) => i % 2 == 1).Count(x => x) / 50_000.0;
        Assert.InRange(f0, 0.09, 0.11);
        Assert.InRange(f1, 0.89, 0.91);

        // Default p = 0.5 and shape = p's shape.
        Assert.Equal(new Shape(2), Random.Bernoulli(Random.Key(2), p).Shape);
        Assert.Equal(Shape.Scalar, Random.Bernoulli(Random.Key(2)).Shape);
        Assert.Throws<DTypeError>(() => Random.Bernoulli(Random.Key(2), Tensor.Scalar(1), [3]));
    }

    [Fact]
    public void RandintIsInRangeAndCoversEveryValue()
    {
        var r = Random.Randint(Random.Key(0), [60_000], 1, 7);
        Assert.Equal(DType.Int32, r.DType);
        var v = r.ToArray<int>();
        Assert.Equal(1, v.Min());
        Assert.Equal(6, v.Max());
        foreach (var g in v.GroupBy(x => x)) Assert.InRange(g.Count() / 60_000.0, 1 / 6.0 - 0.01, 1 / 6.0 + 0.01);

        var neg = Random.Randint(Random.Key(1), [2000], -5, 5).ToArray<int>();
        Assert.Equal(Enumerable.Range(-5, 10), neg.Distinct().Order());

        // maxval <= minval gives minval.
        Assert.All(Random.Randint(Random.Key(2), [10], 3, 3).ToArray<int>(), x => Assert.Equal(3, x));
        Assert.All(Random.Randint(Random.Key(2), [10], 3, -4).ToArray<int>(), x => Assert.Equal(3, x));

        // The whole int32 range: the span wraps to 2^32 - 1 and both signs appear.
        var wide = Random.Randint(Random.Key(3), [1000], int.MinValue, int.MaxValue).ToArray<int>();
        Assert.Contains(wide, x => x < 0);
        Assert.Contains(wide, x => x > 0);

        var u = Random.Randint(Random.Key(4), [1000], 10, 20, DType.UInt32);
        Assert.Equal(DType.UInt32, u.DType);
        Assert.All(u.ToArray<uint>(), x => Assert.InRange(x, 10u, 19u));
    }

    [Fact]
    public void RandintFollowsJaxsTwoDrawFormula()
    {
        // offset = ((hi % span) * (2^32 % span) + lo % span) % span, hi and lo drawn from the two halves of Split(key).
        var key = Random.Key(11);
        var ks = Random.Split(key).ToArray<uint>();
        var hiBits = U(Random.Bits(Tensor.FromArray(ks[..2]), [16]));
        var loBits = U(Random.Bits(Tensor.FromArray(ks[2..]), [16]));
        var r = Random.Randint(key, [16], -3, 1000).ToArray<int>();
        uint span = 1003, mult = (uint)((1UL << 32) % span);
        for (int i = 0; i < 16; i++)
        {
            uint off = unchecked((hiBits[i] % span) * mult + loBits[i] % span) % span;
            Assert.Equal(-3 + (int)off, r[i]);
        }
    }

    [Fact]
    public void PermutationIsADeterministicPermutation()
    {
        var p = Random.Permutation(Random.Key(0), 10);
        Assert.Equal(DType.Int32, p.DType);
        var v = p.ToArray<int>();
        Assert.Equal(Enumerable.Range(0, 10), v.Order());
        Assert.Equal(v, Random.Permutation(Random.Key(0), 10).ToArray<int>());
        Assert.NotEqual(v, Random.Permutation(Random.Key(1), 10).ToArray<int>());
        Assert.NotEqual(Enumerable.Range(0, 10), v);

        // Above 1625 elements two sort rounds are used.
        var big = Random.Permutation(Random.Key(2), 5000).ToArray<int>();
        Assert.Equal(Enumerable.Range(0, 5000), big.Order());
        Assert.Equal(Array.Empty<int>(), Random.Permutation(Random.Key(2), 0).ToArray<int>());
        Assert.Equal(new[] { 0 }, Random.Permutation(Random.Key(2), 1).ToArray<int>());
    }

    [Fact]
    public void PermutationOfAnArrayMovesWholeSlices()
    {
        var key = Random.Key(3);
        var x = Np.Arange(12).Reshape(4, 3);
        var rows = Random.Permutation(key, x).ToArray<int>();
        var order = Random.Permutation(key, 4).ToArray<int>();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(order[i] * 3 + j, rows[i * 3 + j]);

        // Along axis 1 the columns move together.
        var cols = Random.Permutation(key, x, axis: 1).ToArray<int>();
        var corder = Random.Permutation(key, 3).ToArray<int>();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(i * 3 + corder[j], cols[i * 3 + j]);

        // A 1-d array is shuffled like its indices; a scalar n means a permutation of 0..n-1.
        var vec = Random.Permutation(key, Np.Arange(4) * 10).ToArray<int>();
        Assert.Equal(order.Select(i => i * 10), vec);
        Assert.Equal(order, Random.Permutation(key, Tensor.Scalar(4)).ToArray<int>());

        // Independent: every column is its own permutation.
        var ind = Random.Permutation(key, Np.Arange(200).Reshape(100, 2), 0, independent: true).ToArray<int>();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => 2 * i), ind.Where((_, i) => i % 2 == 0).Order());
        Assert.Equal(Enumerable.Range(0, 100).Select(i => 2 * i + 1), ind.Where((_, i) => i % 2 == 1).Order());
    }

    [Fact]
    public void CategoricalFrequenciesFollowSoftmaxOfLogits()
    {
        var probs = new[] { 0.1, 0.2, 0.7 };
        var logits = Tensor.FromArray(probs.Select(p => (float)Math.Log(p) + 3f).ToArray());
        var draws = Random.Categorical(Random.Key(0), logits, shape: [100_000]);
        Assert.Equal(DType.Int32, draws.DType);
        Assert.Equal(new Shape(100_000), draws.Shape);
        var v = draws.ToArray<int>();
        for (int c = 0; c < 3; c++) Assert.InRange(v.Count(x => x == c) / 100_000.0, probs[c] - 0.01, probs[c] + 0.01);

        // A batch of distributions: one draw per row by default, more with a leading shape.
        var batch = Np.Array(new float[,] { { 0, -100, -100 }, { -100, -100, 0 } });
        Assert.Equal(new[] { 0, 2 }, Random.Categorical(Random.Key(1), batch).ToArray<int>());
        var many = Random.Categorical(Random.Key(2), batch, shape: [50, 2]).ToArray<int>();
        Assert.All(many.Where((_, i) => i % 2 == 0), x => Assert.Equal(0, x));
        Assert.All(many.Where((_, i) => i % 2 == 1), x => Assert.Equal(2, x));
        // Categories along axis 0.
        var cols = Random.Categorical(Random.Key(3), batch, axis: 0).ToArray<int>();
        Assert.Equal(3, cols.Length);
        Assert.Equal(0, cols[0]);
        Assert.InRange(cols[1], 0, 1);
        Assert.Equal(1, cols[2]);
    }

    // ----- tracing and errors -----

    [Fact]
    public void UniformTracesThroughThreefry()
    {
        var text = Jax.MakeJaxpr((Tensor key) => Random.Uniform(key, [3]))(Random.Key(0)).ToString();
        Assert.Contains("threefry2x32", text);
        Assert.Contains("shift_right_logical", text);
        Assert.Contains("bitcast_convert_type", text);
        Assert.StartsWith("{ lambda ; a:u32[2].", text);
    }

    [Fact]
    public void SamplersTraceWithAnAbstractKey()
    {
        foreach (var f in new Func<Tensor, Tensor>[]
        {
            k => Random.Split(k, 3), k => Random.FoldIn(k, 5), k => Random.Normal(k, [4], DType.Float64),
            k => Random.TruncatedNormal(k, -1, 1, [4]), k => Random.Bernoulli(k, 0.5, [4]),
            k => Random.Categorical(k, Np.Zeros([3])), k => Random.Randint(k, [4], 0, 10), k => Random.Permutation(k, 6),
        })
            Assert.Contains("threefry2x32", Jax.MakeJaxpr(f)(Random.Key(0)).ToString());
    }

    [Fact]
    public void BadKeysAndDTypesRaiseTypedErrors()
    {
        Assert.Throws<DTypeError>(() => Random.Uniform(Tensor.FromArray(new[] { 0, 0 }), [3]));
        var e = Assert.Throws<ShapeError>(() => Random.Uniform(Random.Split(Random.Key(0)), [3]));
        Assert.Contains("batch of keys", e.Message);
        Assert.Throws<DTypeError>(() => Random.Uniform(Random.Key(0), [3], DType.Int32));
        Assert.Throws<DTypeError>(() => Random.Randint(Random.Key(0), [3], 0, 5, DType.Int64));
        Assert.Throws<DTypeError>(() => Random.Randint(Random.Key(0), [3], 0, 5, DType.Float32));
        Assert.Throws<ShapeError>(() => Random.Uniform(Random.Key(0), [3], minval: Tensor.FromArray(new[] { 0f, 1f })));
        Assert.Throws<InvalidArgumentError>(() => Random.Split(Random.Key(0), -1));
        Assert.Throws<ShapeError>(() => Random.Categorical(Random.Key(0), Np.Zeros([2, 3]), shape: [4]));
    }
}
