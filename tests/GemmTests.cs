namespace Jx.Tests;

/// <summary>Tests that flip the process-wide <see cref="Gemm.ForceManaged"/> switch run alone.</summary>
[CollectionDefinition("Gemm", DisableParallelization = true)]
public class GemmCollection;

/// <summary>Matrix products: the system BLAS path and the managed Vector512 kernel against each other and against a
/// naive loop, for many shapes including edge sizes; Np.Matmul broadcasting; dot_general with batch dimensions.</summary>
[Collection("Gemm")]
public class GemmTests
{
    public static IEnumerable<object[]> Sizes() =>
        new (int M, int K, int N)[]
        {
            (1, 1, 1), (7, 13, 5), (64, 64, 64), (129, 257, 65), (3, 0, 4), (0, 5, 3), (4, 5, 0), (1, 300, 1),
            (6, 1, 33), (5, 17, 32), (13, 256, 16), (2, 3, 2049),
        }.Select(s => new object[] { s.M, s.K, s.N });

    private static T[] Rand<T>(int n, int seed, Func<double, T> conv)
    {
        var r = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => conv(r.NextDouble() * 2 - 1)).ToArray();
    }

    private static double[] Naive(double[] a, double[] b, int m, int k, int n)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    private static float[] RunF(float[] a, float[] b, int m, int k, int n, bool managed)
    {
        var c = Enumerable.Repeat(float.NaN, m * n).ToArray(); // the product must overwrite C
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try { Gemm.Multiply(a, b, c, m, n, k); }
        finally { Gemm.ForceManaged = saved; }
        return c;
    }

    private static double[] RunD(double[] a, double[] b, int m, int k, int n, bool managed)
    {
        var c = Enumerable.Repeat(double.NaN, m * n).ToArray();
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try { Gemm.Multiply(a, b, c, m, n, k); }
        finally { Gemm.ForceManaged = saved; }
        return c;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ManagedFloat32MatchesTheNaiveLoop(int m, int k, int n)
    {
        var a = Rand(m * k, 1, v => (float)v);
        var b = Rand(k * n, 2, v => (float)v);
        var expected = Naive(a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), m, k, n);
        var got = RunF(a, b, m, k, n, managed: true);
        Assert.Equal(m * n, got.Length);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) <= 2e-6 * (k + 1), $"[{i}] {got[i]} vs {expected[i]}");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ManagedFloat64MatchesTheNaiveLoop(int m, int k, int n)
    {
        var a = Rand(m * k, 3, v => v);
        var b = Rand(k * n, 4, v => v);
        var expected = Naive(a, b, m, k, n);
        var got = RunD(a, b, m, k, n, managed: true);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) <= 1e-14 * (k + 1), $"[{i}] {got[i]} vs {expected[i]}");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void BlasAndManagedAgree(int m, int k, int n)
    {
        var a = Rand(m * k, 5, v => (float)v);
        var b = Rand(k * n, 6, v => (float)v);
        var blas = RunF(a, b, m, k, n, managed: false);
        var managed = RunF(a, b, m, k, n, managed: true);
        for (int i = 0; i < blas.Length; i++) Assert.True(Math.Abs(blas[i] - managed[i]) <= 2e-6 * (k + 1), $"[{i}] {blas[i]} vs {managed[i]}");
        var ad = Rand(m * k, 7, v => v);
        var bd = Rand(k * n, 8, v => v);
        var blasD = RunD(ad, bd, m, k, n, managed: false);
        var managedD = RunD(ad, bd, m, k, n, managed: true);
        for (int i = 0; i < blasD.Length; i++) Assert.True(Math.Abs(blasD[i] - managedD[i]) <= 1e-14 * (k + 1));
    }

    private static T[] TransposeOf<T>(T[] x, int rows, int cols)
    {
        var t = new T[x.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
        return t;
    }

    public static IEnumerable<object[]> TransposeCases() =>
        from s in new (int M, int K, int N)[] { (7, 13, 5), (129, 257, 65), (6, 1, 33), (2, 300, 2049), (33, 64, 1) }
        from ta in new[] { false, true }
        from tb in new[] { false, true }
        from managed in new[] { false, true }
        select new object[] { s.M, s.K, s.N, ta, tb, managed };

    [Theory]
    [MemberData(nameof(TransposeCases))]
    public void TransposeFlagsReadTheOperandsTransposedInPlace(int m, int k, int n, bool transA, bool transB, bool managed)
    {
        var a = Rand(m * k, 11, v => v);
        var b = Rand(k * n, 12, v => v);
        var expected = Naive(a, b, m, k, n);
        var aIn = transA ? TransposeOf(a, m, k) : a;
        var bIn = transB ? TransposeOf(b, k, n) : b;
        var c = Enumerable.Repeat(double.NaN, m * n).ToArray();
        var cf = Enumerable.Repeat(float.NaN, m * n).ToArray();
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try
        {
            Gemm.Multiply(aIn, bIn, c, m, n, k, transA, transB);
            Gemm.Multiply(aIn.Select(v => (float)v).ToArray(), bIn.Select(v => (float)v).ToArray(), cf, m, n, k, transA, transB);
        }
        finally { Gemm.ForceManaged = saved; }
        for (int i = 0; i < c.Length; i++)
        {
            Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-14 * (k + 1), $"f64 [{i}] {c[i]} vs {expected[i]}");
            Assert.True(Math.Abs(cf[i] - expected[i]) <= 2e-6 * (k + 1), $"f32 [{i}] {cf[i]} vs {expected[i]}");
        }
    }

    [Theory]
    [InlineData(7, 13, 5, false, false)]
    [InlineData(64, 32, 64, true, false)]
    [InlineData(129, 257, 65, false, true)]
    [InlineData(3, 0, 4, true, true)]
    public void AccumulateAddsTheProductIntoC(int m, int k, int n, bool transA, bool managed)
    {
        var a = Rand(m * k, 21, v => v);
        var b = Rand(k * n, 22, v => v);
        var c0 = Rand(m * n, 23, v => v);
        var product = Naive(a, b, m, k, n);
        var aIn = transA ? TransposeOf(a, m, k) : a;
        var c = (double[])c0.Clone();
        var cf = c0.Select(v => (float)v).ToArray();
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try
        {
            Gemm.Multiply(aIn, b, c, m, n, k, transA, false, accumulate: true);
            Gemm.Multiply(aIn.Select(v => (float)v).ToArray(), b.Select(v => (float)v).ToArray(), cf, m, n, k, transA, false, accumulate: true);
        }
        finally { Gemm.ForceManaged = saved; }
        for (int i = 0; i < c.Length; i++)
        {
            double want = c0[i] + product[i];
            Assert.True(Math.Abs(c[i] - want) <= 1e-14 * (k + 2), $"f64 [{i}] {c[i]} vs {want}");
            Assert.True(Math.Abs(cf[i] - want) <= 2e-6 * (k + 2), $"f32 [{i}] {cf[i]} vs {want}");
        }
    }

    [Fact]
    public void DotGeneralOnTransposedLayoutsMatchesTheNaiveProduct()
    {
        // x^T·y and x·y^T contract over a leading / trailing dim, which dot_general hands to GEMM with transpose flags.
        var x = Np.Arange(12).Reshape([3, 4]).AsType(DType.Float32);
        var y = Np.Arange(15).Reshape([3, 5]).AsType(DType.Float32);
        var xty = Np.DotGeneral(x, y, new DotDimensionNumbers([0], [0], [], []));
        var want = new float[4, 5];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 5; j++)
                for (int p = 0; p < 3; p++) want[i, j] += (p * 4 + i) * (p * 5 + j);
        Assert.Equal(want.Cast<float>().ToArray(), xty.ToArray<float>());
        var z = Np.Arange(8).Reshape([2, 4]).AsType(DType.Float32);
        var xzt = Np.DotGeneral(x, z, new DotDimensionNumbers([1], [1], [], []));
        var want2 = new float[3, 2];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                for (int p = 0; p < 4; p++) want2[i, j] += (i * 4 + p) * (j * 4 + p);
        Assert.Equal(want2.Cast<float>().ToArray(), xzt.ToArray<float>());
    }

    [Fact]
    public void BackendIsReported()
    {
        Assert.False(string.IsNullOrEmpty(Gemm.Backend));
        Assert.Equal(Gemm.UsingBlas, Gemm.Backend.StartsWith("openblas"));
    }

    [Fact]
    public void ExactSmallProducts()
    {
        var a = new float[] { 1, 2, 3, 4, 5, 6 };       // 2x3
        var b = new float[] { 7, 8, 9, 10, 11, 12 };    // 3x2
        var expected = new float[] { 58, 64, 139, 154 };
        Assert.Equal(expected, RunF(a, b, 2, 3, 2, managed: true));
        Assert.Equal(expected, RunF(a, b, 2, 3, 2, managed: false));
        Assert.Equal(new double[] { 58, 64, 139, 154 }, RunD(a.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), 2, 3, 2, managed: true));
    }

    [Fact]
    public void MatmulThroughBothPathsGivesTheSameTensor()
    {
        var a = Tensor.FromArray(Rand(33 * 70, 9, v => (float)v), new Shape(33, 70));
        var b = Tensor.FromArray(Rand(70 * 41, 10, v => (float)v), new Shape(70, 41));
        var viaBlas = a.Matmul(b).ToArray<float>();
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = true;
        float[] viaManaged;
        try { viaManaged = a.Matmul(b).ToArray<float>(); }
        finally { Gemm.ForceManaged = saved; }
        for (int i = 0; i < viaBlas.Length; i++) Assert.True(Math.Abs(viaBlas[i] - viaManaged[i]) <= 1e-4);
    }

    // ----- Np.Matmul -----

    private static Tensor RandT(int seed, params int[] shape) =>
        Tensor.FromArray(Rand(new Shape(shape).Size, seed, v => Math.Round(v * 8)), new Shape(shape)); // small integers: exact sums

    /// <summary>Reference batched matmul on doubles of already broadcast shapes (..., m, k) @ (..., k, n).</summary>
    private static double[] BatchedNaive(double[] a, double[] b, int batch, int m, int k, int n)
    {
        var r = new double[batch * m * n];
        for (int t = 0; t < batch; t++)
        {
            var c = Naive(a[(t * m * k)..((t + 1) * m * k)], b[(t * k * n)..((t + 1) * k * n)], m, k, n);
            Array.Copy(c, 0, r, t * m * n, c.Length);
        }
        return r;
    }

    [Fact]
    public void MatmulMatrixAndVectorForms()
    {
        var m = Np.Array(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var v = Np.Array(new double[] { 1, 0, -1 });
        Assert.Equal(new[] { -2.0, -2.0 }, Np.Matmul(m, v).ToArray<double>());
        Assert.Equal(new Shape(2), Np.Matmul(m, v).Shape);
        Assert.Equal(new[] { 9.0, 12, 15 }, Np.Matmul(Np.Array(new double[] { 1, 2 }), m).ToArray<double>());
        var s = Np.Matmul(v, v);
        Assert.Equal(Shape.Scalar, s.Shape);
        Assert.Equal(2.0, s.Item());
        Assert.Equal(new[] { 14.0, 32, 32, 77 }, Np.Matmul(m, m.T).ToArray<double>());
        Assert.Equal(new[] { 14.0, 32, 32, 77 }, Np.Dot(m, m.T).ToArray<double>());
        Assert.Equal(2.0, Np.Dot(v, v).Item());
        Assert.Equal(2.0, Np.Vdot(v, v).Item());
        Assert.Equal(new[] { 14.0, 32 }, Np.Inner(m, Np.Array(new double[] { 1, 2, 3 })).ToArray<double>());
    }

    [Fact]
    public void MatmulBroadcastsBatchDimensions()
    {
        var a = RandT(11, 2, 1, 3, 4);
        var b = RandT(12, 5, 4, 2);
        var y = Np.Matmul(a, b);
        Assert.Equal(new Shape(2, 5, 3, 2), y.Shape);
        var ab = Np.BroadcastTo(a, [2, 5, 3, 4]).ToArray<double>();
        var bb = Np.BroadcastTo(b, [2, 5, 4, 2]).ToArray<double>();
        Assert.Equal(BatchedNaive(ab, bb, 10, 3, 4, 2), y.ToArray<double>());
        // a vector on the left of a batch of matrices
        var v = RandT(13, 4);
        var yv = Np.Matmul(v, b);
        Assert.Equal(new Shape(5, 2), yv.Shape);
        Assert.Equal(BatchedNaive(Np.BroadcastTo(v.Reshape(1, 4), [5, 1, 4]).ToArray<double>(), b.ToArray<double>(), 5, 1, 4, 2), yv.ToArray<double>());
        // a batch of matrices times a vector
        var yw = Np.Matmul(a, RandT(14, 4));
        Assert.Equal(new Shape(2, 1, 3), yw.Shape);
        Assert.Equal(DType.Float64, yw.DType);
    }

    [Fact]
    public void MatmulPromotesAndKeepsIntegers()
    {
        var i = Np.Array(new[,] { { 1, 2 }, { 3, 4 } });
        var y = Np.Matmul(i, i);
        Assert.Equal(DType.Int32, y.DType);
        Assert.Equal(new[] { 7, 10, 15, 22 }, y.ToArray<int>());
        var f = Np.Matmul(i, Np.Array(new[,] { { 0.5f }, { 1f } }));
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal(new[] { 2.5f, 5.5f }, f.ToArray<float>());
        var h = Np.Matmul(i.AsType(DType.Float16), i.AsType(DType.Float16));
        Assert.Equal(DType.Float16, h.DType);
        Assert.Equal(new[] { 7.0, 10, 15, 22 }, h.ToDoubleArray());
        var l = Np.Matmul(Np.Array(new long[,] { { 1L << 40 } }), Np.Array(new long[,] { { 2 } }));
        Assert.Equal(DType.Int64, l.DType);
        Assert.Equal(1L << 41, l.Item<long>());
    }

    [Fact]
    public void MatmulShapeErrorsNameBothShapes()
    {
        var e = Assert.Throws<ShapeError>(() => Np.Matmul(Np.Zeros([2, 3]), Np.Zeros([4, 5])));
        Assert.Contains("Matmul", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 5)", e.Message);
        Assert.Throws<ShapeError>(() => Np.Matmul(Tensor.Scalar(1f), Np.Zeros([2])));
        Assert.Throws<ShapeError>(() => Np.Matmul(Np.Zeros([2, 2, 3]), Np.Zeros([3, 3, 2])));
        Assert.Throws<DTypeError>(() => Np.Matmul(Np.Zeros([2, 2], DType.Bool), Np.Zeros([2, 2], DType.Bool)));
    }

    // ----- dot_general -----

    [Fact]
    public void DotGeneralWithLeadingBatchDimension()
    {
        var l = RandT(21, 2, 3, 4);
        var r = RandT(22, 2, 4, 5);
        var y = Np.DotGeneral(l, r, new([2], [1], [0], [0]));
        Assert.Equal(new Shape(2, 3, 5), y.Shape);
        Assert.Equal(BatchedNaive(l.ToArray<double>(), r.ToArray<double>(), 2, 3, 4, 5), y.ToArray<double>());
    }

    [Fact]
    public void DotGeneralWithInnerBatchAndTransposedContraction()
    {
        var l = RandT(23, 4, 2, 3);   // (k, b, i)
        var r = RandT(24, 5, 2, 4);   // (j, b, k)
        var y = Np.DotGeneral(l, r, new([0], [2], [1], [1]));
        Assert.Equal(new Shape(2, 3, 5), y.Shape); // batch, lhs free, rhs free
        var (lv, rv, yv) = (l.ToArray<double>(), r.ToArray<double>(), y.ToArray<double>());
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 5; j++)
                {
                    double s = 0;
                    for (int k = 0; k < 4; k++) s += lv[(k * 2 + b) * 3 + i] * rv[(j * 2 + b) * 4 + k];
                    Assert.Equal(s, yv[(b * 3 + i) * 5 + j]);
                }
    }

    [Fact]
    public void DotGeneralWithTwoContractingDimensions()
    {
        var l = RandT(25, 2, 3, 4);
        var r = RandT(26, 3, 4, 5);
        var y = Np.DotGeneral(l, r, new([1, 2], [0, 1], [], []));
        Assert.Equal(new Shape(2, 5), y.Shape);
        Assert.Equal(Naive(l.ToArray<double>(), r.ToArray<double>(), 2, 12, 5), y.ToArray<double>());
        Assert.Equal(y.ToArray<double>(), Np.Tensordot(l, r, 2).ToArray<double>());
    }

    [Fact]
    public void DotGeneralPreferredElementType()
    {
        var a = Np.Array(new[,] { { 1, 2 } });
        var b = Np.Array(new[,] { { 3 }, { 4 } });
        var y = Np.DotGeneral(a, b, new([1], [0], [], []), DType.Float32);
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(11f, y.Item<float>());
    }

    [Fact]
    public void DotGeneralErrors()
    {
        var e = Assert.Throws<ShapeError>(() => Np.DotGeneral(Np.Zeros([2, 3]), Np.Zeros([4, 5]), new([1], [0], [], [])));
        Assert.Contains("dot_general", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 5)", e.Message);
        Assert.Throws<ShapeError>(() => Np.DotGeneral(Np.Zeros([2, 3, 4]), Np.Zeros([3, 4, 5]), new([2], [1], [0], [0])));
        Assert.Throws<AxisError>(() => Np.DotGeneral(Np.Zeros([2, 3]), Np.Zeros([3, 5]), new([2], [0], [], [])));
    }

    [Fact]
    public void IntegerProductsOfOperandsStoredTransposedAreExact()
    {
        // lhs contracted on its first axis (stored (K, M)) and rhs on its last (stored (N, K)): the layouts the float path
        // hands GEMM with transpose flags; the integer path must arrange them itself.
        var a = Np.Arange(6).Reshape([3, 2]);              // int32 [K=3, M=2]
        var b = Np.Arange(12).Reshape([4, 3]) - 5;         // int32 [N=4, K=3]
        var c = Np.DotGeneral(a, b, new([0], [1], [], []));
        Assert.Equal(DType.Int32, c.DType);
        var af = a.AsType(DType.Float64).ToArray<double>();
        var bf = b.AsType(DType.Float64).ToArray<double>();
        var want = new int[2 * 4];
        for (int m = 0; m < 2; m++)
            for (int n = 0; n < 4; n++)
            {
                double sum = 0;
                for (int k = 0; k < 3; k++) sum += af[k * 2 + m] * bf[n * 3 + k];
                want[m * 4 + n] = (int)sum;
            }
        Assert.Equal(want, c.ToArray<int>());
        Assert.Equal(want, Transforms.Jit((Tensor x, Tensor y) => Np.DotGeneral(x, y, new([0], [1], [], [])))(a, b).ToArray<int>());
    }
}
