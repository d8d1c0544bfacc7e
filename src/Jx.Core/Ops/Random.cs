namespace Jx;

/// <summary>jax.random for C#: JAX's counter-based threefry2x32 generator, bit for bit, in its partitionable mode (the
/// default since JAX 0.5). A key is a plain <c>uint32[2]</c> tensor (JAX's legacy <c>PRNGKey</c> layout); nothing is
/// global, so the same key always gives the same numbers, and a key should be <see cref="Split"/> rather than reused.
/// Every sampler is a composition of primitives (<c>threefry2x32</c>, shifts, bitcasts, <c>sort</c>...), so it traces,
/// jits and batches like any other op.</summary>
/// <remarks>Inside namespace <c>Jx</c> this class shadows <see cref="System.Random"/>; write <c>System.Random</c> for
/// the .NET generator.</remarks>
/// <example><code>
/// var key = Random.Key(0);
/// var keys = Random.Split(key);                       // [[1797259609, 2579123966], [928981903, 3453687069]]
/// var u = Random.Uniform(key, [3]);                   // [0.947667, 0.9785799, 0.33229148]
/// var x = Random.Normal(keys[0], [2, 3]);
/// var perm = Random.Permutation(keys[1], 10);
/// </code></example>
public static class Random
{
    // ----- keys -----

    /// <summary>A key from a 64-bit seed: its high and low 32-bit words, <c>[seed &gt;&gt; 32, seed &amp; 0xFFFFFFFF]</c>
    /// (jax.random.PRNGKey with a 64-bit seed). For seeds in [0, 2³¹) this equals <see cref="Key(int)"/>.</summary>
    /// <example><code>var k = Random.Key(42L); // uint32 [0, 42]</code></example>
    public static Tensor Key(long seed) => Tensor.FromArray(new[] { (uint)((ulong)seed >> 32), unchecked((uint)seed) });

    /// <summary>A key from a 32-bit seed, padded with a zero high word: <c>[0, (uint)seed]</c>, as
    /// jax.random.PRNGKey does in JAX's default 32-bit mode (so <c>Key(-1)</c> is <c>[0, 4294967295]</c>).</summary>
    /// <example><code>var k = Random.Key(0); // uint32 [0, 0]</code></example>
    public static Tensor Key(int seed) => Tensor.FromArray(new uint[] { 0, unchecked((uint)seed) });

    /// <summary>A key from a scalar integer tensor (int32, uint32 or int64), so the seed itself may be traced:
    /// 32-bit seeds are padded with a zero high word, int64 seeds are split into their two words.</summary>
    public static Tensor Key(Tensor seed)
    {
        if (seed.Rank != 0)
            throw new ShapeError($"Random.Key takes a scalar seed, got shape {seed.Shape}; to make many keys, map over the seeds with Vmap or use Random.Split");
        Tensor hi, lo;
        switch (seed.DType)
        {
            case DType.Int32:
            case DType.UInt32:
                lo = ToUInt32(seed);
                hi = U32(0, Shape.Scalar);
                break;
            case DType.Int64:
                lo = Lax.ConvertElementType(seed, DType.UInt32);
                hi = Lax.ConvertElementType(Lax.ShiftRightLogical(seed, Scalar(32, DType.Int64)), DType.UInt32);
                break;
            default:
                throw new DTypeError($"Random.Key takes an integer seed (int32, uint32 or int64), got {seed.DType.Name()}");
        }
        return Lax.Concatenate([Lax.ExpandDims(hi, [0]), Lax.ExpandDims(lo, [0])], 0);
    }

    /// <summary><paramref name="num"/> new keys from one, as a <c>uint32[num, 2]</c> tensor (jax.random.split); row i is
    /// threefry2x32(key, (0, i)).</summary>
    /// <example><code>
    /// var ks = Random.Split(Random.Key(0), 3);
    /// var (k1, k2) = (ks[0], ks[1]);
    /// </code></example>
    public static Tensor Split(Tensor key, int num = 2)
    {
        CheckKey(key, "Split");
        if (num < 0) throw new InvalidArgumentError($"Random.Split: num must be non-negative, got {num}");
        var (b1, b2) = Hash(key, new Shape(num));
        return Np.Stack([b1, b2], 1);
    }

    /// <summary>A new key that is a deterministic function of <paramref name="key"/> and <paramref name="data"/>
    /// (jax.random.fold_in): threefry2x32(key, (0, (uint)data)).</summary>
    /// <example><code>var stepKey = Random.FoldIn(key, step);</code></example>
    public static Tensor FoldIn(Tensor key, int data) => FoldIn(key, Tensor.Scalar(unchecked((uint)data)));

    /// <summary><see cref="FoldIn(Tensor, int)"/> with the data as a scalar integer tensor (int32, uint32 or int64,
    /// reduced to its low 32 bits), so it may be traced.</summary>
    public static Tensor FoldIn(Tensor key, Tensor data)
    {
        CheckKey(key, "FoldIn");
        if (data.Rank != 0)
            throw new ShapeError($"Random.FoldIn takes scalar data, got shape {data.Shape}; map over an array of data with Vmap");
        if (!data.DType.IsInteger())
            throw new DTypeError($"Random.FoldIn takes integer data, got {data.DType.Name()}");
        var one = new Shape(1);
        var (k1, k2) = KeyWords(key);
        var outs = RandomBits.Threefry2x32.Bind([
            Lax.BroadcastInDim(k1, one, []), Lax.BroadcastInDim(k2, one, []),
            U32(0, one), Lax.Reshape(ToUInt32(data), one)]);
        return Lax.Concatenate([outs[0], outs[1]], 0);
    }

    // ----- raw bits -----

    /// <summary>Uniformly random uint32 bits of the given shape (jax.random.bits): for each flat index i,
    /// the xor of the two words of threefry2x32(key, (i &gt;&gt; 32, i &amp; 0xFFFFFFFF)).</summary>
    /// <example><code>var b = Random.Bits(Random.Key(0), [4]); // uint32[4]</code></example>
    public static Tensor Bits(Tensor key, Shape? shape = null)
    {
        CheckKey(key, "Bits");
        var (b1, b2) = Hash(key, shape ?? Shape.Scalar);
        return Lax.Xor(b1, b2);
    }

    // ----- continuous distributions -----

    /// <summary>Uniform samples in [minval, maxval) (jax.random.uniform): the mantissa bits of a float in [1, 2) are
    /// filled from <see cref="Bits"/>, 1 is subtracted, and the result is scaled, shifted and kept ≥ minval. float64
    /// takes 52 bits from the two 32-bit words; float16 and bfloat16 take 16 and 8 bits as JAX does.
    /// <paramref name="minval"/> and <paramref name="maxval"/> (default 0 and 1) must broadcast to
    /// <paramref name="shape"/>.</summary>
    /// <example><code>
    /// var u = Random.Uniform(Random.Key(0), [3]);                    // [0.947667, 0.9785799, 0.33229148]
    /// var v = Random.Uniform(key, [2, 2], minval: -1, maxval: 1);
    /// </code></example>
    public static Tensor Uniform(Tensor key, Shape? shape = null, DType dtype = DType.Float32, Tensor? minval = null, Tensor? maxval = null)
    {
        CheckKey(key, "Uniform");
        CheckFloat("Uniform", dtype);
        return UniformCore(key, shape ?? Shape.Scalar, dtype, minval ?? 0.0, maxval ?? 1.0, "Uniform");
    }

    /// <summary>Standard normal samples (jax.random.normal): <c>√2 · erf⁻¹(u)</c> with u uniform on
    /// (nextafter(-1, 0), 1).</summary>
    /// <example><code>var x = Random.Normal(key, [1000]); // mean ≈ 0, std ≈ 1</code></example>
    public static Tensor Normal(Tensor key, Shape? shape = null, DType dtype = DType.Float32)
    {
        CheckKey(key, "Normal");
        CheckFloat("Normal", dtype);
        var s = shape ?? Shape.Scalar;
        double lo = -(1 - Math.Pow(2, -(MantissaBits(dtype) + 1)));
        var u = UniformCore(key, s, dtype, Scalar(lo, dtype), Scalar(1, dtype), "Normal");
        return Lax.Mul(Full(Math.Sqrt(2), dtype, s), Lax.ErfInv(u));
    }

    /// <summary>Standard normal samples truncated to the open interval (lower, upper) (jax.random.truncated_normal):
    /// inverse-CDF sampling between erf(lower/√2) and erf(upper/√2), clipped into the open interval. When
    /// <paramref name="shape"/> is null it is the broadcast of lower's and upper's shapes.</summary>
    /// <example><code>var w = Random.TruncatedNormal(key, -2, 2, [256, 128]);</code></example>
    public static Tensor TruncatedNormal(Tensor key, Tensor lower, Tensor upper, Shape? shape = null, DType dtype = DType.Float32)
    {
        CheckKey(key, "TruncatedNormal");
        CheckFloat("TruncatedNormal", dtype);
        var s = shape ?? Np.BroadcastShapes(lower.Shape, upper.Shape);
        CheckBroadcastsTo("TruncatedNormal", s, ("lower", lower.Shape), ("upper", upper.Shape));
        var sqrt2 = Scalar(Math.Sqrt(2), dtype);
        lower = Lax.ConvertElementType(lower, dtype);
        upper = Lax.ConvertElementType(upper, dtype);
        var a = Lax.Erf(Np.Divide(lower, sqrt2));
        var b = Lax.Erf(Np.Divide(upper, sqrt2));
        var u = UniformCore(key, s, dtype, a, b, "TruncatedNormal");
        var x = Np.Multiply(sqrt2, Lax.ErfInv(u));
        var lo = Np.NextAfter(Lax.StopGradient(lower), Scalar(double.PositiveInfinity, dtype));
        var hi = Np.NextAfter(Lax.StopGradient(upper), Scalar(double.NegativeInfinity, dtype));
        return Np.Clip(x, lo, hi);
    }

    /// <summary>Standard Gumbel samples (jax.random.gumbel): <c>-log(-log(u))</c> with u uniform on [tiny, 1).</summary>
    /// <example><code>var g = Random.Gumbel(key, [5]);</code></example>
    public static Tensor Gumbel(Tensor key, Shape? shape = null, DType dtype = DType.Float32)
    {
        CheckKey(key, "Gumbel");
        CheckFloat("Gumbel", dtype);
        var s = shape ?? Shape.Scalar;
        var u = UniformCore(key, s, dtype, Scalar(SmallestNormal(dtype), dtype), Scalar(1, dtype), "Gumbel");
        return Lax.Neg(Lax.Log(Lax.Neg(Lax.Log(u))));
    }

    // ----- discrete distributions -----

    /// <summary>Bernoulli samples (jax.random.bernoulli): true with probability <paramref name="p"/> (default 0.5), as
    /// <c>Uniform(key, shape, p.dtype) &lt; p</c>. p must be floating-point; when <paramref name="shape"/> is null it
    /// is p's shape.</summary>
    /// <example><code>var mask = Random.Bernoulli(key, 0.9, [128]); // bool[128], about 90% true</code></example>
    public static Tensor Bernoulli(Tensor key, Tensor? p = null, Shape? shape = null)
    {
        CheckKey(key, "Bernoulli");
        p ??= Tensor.Scalar(0.5f);
        if (!p.DType.IsFloating())
            throw new DTypeError($"Random.Bernoulli: the probability p must be floating-point, got {p.DType.Name()}; convert it with p.AsType(DType.Float32)");
        var dtype = p.DType;
        p = Lax.ConvertElementType(p, dtype);
        var s = shape ?? p.Shape;
        CheckBroadcastsTo("Bernoulli", s, ("p", p.Shape));
        return Np.Less(UniformCore(key, s, dtype, Scalar(0, dtype), Scalar(1, dtype), "Bernoulli"), p);
    }

    /// <summary>Samples of categorical distributions given by unnormalized log-probabilities along
    /// <paramref name="axis"/> (jax.random.categorical, the Gumbel-max trick): int32 indices. The result shape is
    /// <paramref name="shape"/>, which must end with the logits' shape without <paramref name="axis"/> (its default);
    /// leading dimensions draw independent samples.</summary>
    /// <example><code>
    /// var logits = Np.Log(Np.Array(new[] { 0.2f, 0.3f, 0.5f }));
    /// var draws = Random.Categorical(key, logits, shape: [1000]); // int32[1000] of 0, 1, 2
    /// </code></example>
    public static Tensor Categorical(Tensor key, Tensor logits, int axis = -1, Shape? shape = null)
    {
        CheckKey(key, "Categorical");
        if (!logits.DType.IsFloating())
            throw new DTypeError($"Random.Categorical: logits must be floating-point, got {logits.DType.Name()}; convert them with logits.AsType(DType.Float32)");
        int rank = logits.Rank;
        if (rank == 0) throw new ShapeError("Random.Categorical: logits must have at least one dimension (the categories)");
        int ax = Np.NormalizeAxis(axis, rank, "Random.Categorical") - rank; // negative, as JAX uses it
        int axPos = ax + rank;
        var batch = new Shape(logits.Shape.Where((_, i) => i != axPos).ToArray());
        var s = shape ?? batch;
        if (s.Rank < batch.Rank || Np.BroadcastShapes(s, batch) != s)
            throw new ShapeError($"Random.Categorical: shape {s} must be broadcast-compatible with the logits' batch shape {batch} (logits shape {logits.Shape} without axis {axPos}) and end with it");
        int prefix = s.Rank - batch.Rank;
        var logitsShape = s.Skip(prefix).ToList();
        logitsShape.Insert(axPos, logits.Shape[axPos]);
        var g = Gumbel(key, new Shape([.. s.Take(prefix), .. logitsShape]), logits.DType);
        var shifted = Np.Add(g, Lax.ExpandDims(logits, Enumerable.Range(0, prefix).ToArray()));
        return Np.Argmax(shifted, ax);
    }

    /// <summary>Uniform integers in [minval, maxval) (jax.random.randint), int32 or uint32: two 32-bit draws from split
    /// keys are reduced modulo the span as JAX does, to lessen the modulo bias. minval and maxval broadcast to
    /// <paramref name="shape"/>; when maxval ≤ minval the result is minval.</summary>
    /// <example><code>var dice = Random.Randint(key, [10], 1, 7); // int32 in 1..6</code></example>
    public static Tensor Randint(Tensor key, Shape shape, Tensor minval, Tensor maxval, DType dtype = DType.Int32)
    {
        CheckKey(key, "Randint");
        if (dtype is not (DType.Int32 or DType.UInt32))
            throw new DTypeError(dtype == DType.Int64
                ? "Random.Randint: int64 results need 64-bit unsigned arithmetic, which Jx does not have; draw int32 (or uint32) values and convert them"
                : $"Random.Randint: dtype must be an integer type (int32 or uint32), got {dtype.Name()}; for floats use Random.Uniform");
        CheckBroadcastsTo("Randint", shape, ("minval", minval.Shape), ("maxval", maxval.Shape));
        if (!minval.DType.IsInteger()) minval = Lax.ConvertElementType(minval, DType.Int32);
        if (!maxval.DType.IsInteger()) maxval = Lax.ConvertElementType(maxval, DType.Int32);

        // Where maxval exceeds the dtype's range (e.g. 2³² for uint32 from an int64 bound) the span grows by one.
        var outOfRange = Np.Greater(maxval, ConvertAndClip(Scalar(MaxOf(dtype), dtype), maxval.DType));
        var lo = Np.BroadcastTo(ConvertAndClip(minval, dtype), shape);
        var hi = Np.BroadcastTo(ConvertAndClip(maxval, dtype), shape);
        outOfRange = Np.BroadcastTo(outOfRange, shape);

        var ks = Split(key);
        var higherBits = Bits(Row(ks, 0), shape);
        var lowerBits = Bits(Row(ks, 1), shape);

        var span = ToUInt32(Lax.Sub(hi, lo));
        span = Lax.Select(Lax.Le(hi, lo), U32(1, shape), span);
        span = Lax.Select(Lax.And(outOfRange, Lax.Gt(hi, lo)), Lax.Add(span, U32(1, shape)), span);

        // 2³² mod span, computed as ((2¹⁶ mod span)² mod span) so that nothing overflows.
        var multiplier = Lax.Rem(U32(1u << 16, shape), span);
        multiplier = Lax.Rem(Lax.Mul(multiplier, multiplier), span);
        var offset = Lax.Add(Lax.Mul(Lax.Rem(higherBits, span), multiplier), Lax.Rem(lowerBits, span));
        offset = Lax.Rem(offset, span);
        return Lax.Add(lo, dtype == DType.Int32 ? Lax.BitcastConvertType(offset, DType.Int32) : offset);
    }

    /// <summary>A random permutation of 0..n-1 as int32 (jax.random.permutation with an int).</summary>
    /// <example><code>var order = Random.Permutation(key, 5); // e.g. [3, 0, 4, 1, 2]</code></example>
    public static Tensor Permutation(Tensor key, int n)
    {
        CheckKey(key, "Permutation");
        if (n < 0) throw new InvalidArgumentError($"Random.Permutation: n must be non-negative, got {n}");
        return Shuffle(key, Lax.Iota(DType.Int32, n), 0, new Shape(n), n);
    }

    /// <summary>x with its slices along <paramref name="axis"/> randomly permuted (jax.random.permutation). With
    /// <paramref name="independent"/>, every 1-d line along the axis is shuffled separately. A scalar integer x means
    /// <see cref="Permutation(Tensor, int)"/> of its value (which must then be concrete). The permutation is made by
    /// rounds of <c>sort</c> keyed by fresh random bits, as JAX does.</summary>
    /// <example><code>var shuffled = Random.Permutation(key, data, axis: 0); // rows of data in random order</code></example>
    public static Tensor Permutation(Tensor key, Tensor x, int axis = 0, bool independent = false)
    {
        CheckKey(key, "Permutation");
        if (x.Rank == 0)
        {
            if (!x.DType.IsInteger())
                throw new DTypeError($"Random.Permutation: x must be an integer or an array of rank >= 1, got a {x.DType.Name()} scalar");
            if (!x.IsConcrete)
                throw new ConcretizationError("Random.Permutation(key, n) needs the length n as a concrete value, but it is traced; pass it as a C# int (a static argument) instead");
            return Permutation(key, x.Item<int>());
        }
        int a = Np.NormalizeAxis(axis, x.Rank, "Random.Permutation");
        if (independent || x.Rank == 1) return Shuffle(key, x, a, x.Shape, x.Size);
        int n = x.Shape[a];
        return Shuffle(key, x, a, new Shape(n), n);
    }

    // ----- internals -----

    /// <summary>JAX's _shuffle: ceil(3·ln(size)/ln(2³²−1)) rounds of a stable sort of x along axis keyed by fresh random
    /// bits of <paramref name="keyShape"/> (broadcast along the axis when that is 1-d: every line then moves alike,
    /// which equals taking x at the permutation JAX shuffles from arange(n)).</summary>
    private static Tensor Shuffle(Tensor key, Tensor x, int axis, Shape keyShape, int size)
    {
        int rounds = (int)Math.Ceiling(3 * Math.Log(Math.Max(1, size)) / Math.Log(uint.MaxValue));
        for (int r = 0; r < rounds; r++)
        {
            var ks = Split(key);
            key = Row(ks, 0);
            var sortKeys = Bits(Row(ks, 1), keyShape);
            if (keyShape != x.Shape) sortKeys = Lax.BroadcastInDim(sortKeys, x.Shape, [axis]);
            x = Lax.SortKeyVal(sortKeys, x, axis).Values;
        }
        return x;
    }

    /// <summary>Both words of threefry2x32(key, counter) for the counters 0..size-1 laid out in <paramref name="shape"/>
    /// (JAX's iota_2x32_shape: the high words are 0 since sizes are below 2³²).</summary>
    private static (Tensor Bits1, Tensor Bits2) Hash(Tensor key, Shape shape)
    {
        var (k1, k2) = KeyWords(key);
        var hi = U32(0, shape);
        var lo = shape.Rank == 0 ? U32(0, shape) : Lax.Reshape(Lax.Iota(DType.UInt32, shape.Size), shape);
        var outs = RandomBits.Threefry2x32.Bind([Lax.BroadcastInDim(k1, shape, []), Lax.BroadcastInDim(k2, shape, []), hi, lo]);
        return (outs[0], outs[1]);
    }

    private static Tensor UniformCore(Tensor key, Shape shape, DType dtype, Tensor minval, Tensor maxval, string op)
    {
        CheckBroadcastsTo(op, shape, ("minval", minval.Shape), ("maxval", maxval.Shape));
        var lo = Lax.ConvertElementType(minval, dtype);
        var hi = Lax.ConvertElementType(maxval, dtype);
        var floats = UnitFloats(key, shape, dtype);
        return Np.Maximum(lo, Np.Add(Np.Multiply(floats, Np.Subtract(hi, lo)), lo));
    }

    /// <summary>Floats in [1, 2) with random mantissa bits, minus one.</summary>
    private static Tensor UnitFloats(Tensor key, Shape shape, DType dtype)
    {
        switch (dtype)
        {
            case DType.Float32:
            {
                var bits = Bits(key, shape);
                var f = Lax.Or(Lax.ShiftRightLogical(bits, U32(32 - 23, shape)), U32(0x3F800000, shape));
                return Lax.Sub(Lax.BitcastConvertType(f, DType.Float32), Full(1, DType.Float32, shape));
            }
            case DType.Float64:
            {
                // 64 random bits are (bits1 << 32) | bits2; (bits >> 12) | 0x3FF0000000000000 is assembled from the
                // two 32-bit words, since Jx has no uint64.
                var (b1, b2) = Hash(key, shape);
                var upper = Lax.Or(Lax.ShiftRightLogical(b1, U32(12, shape)), U32(0x3FF00000, shape));
                var lower = Lax.Or(Lax.ShiftLeft(b1, U32(20, shape)), Lax.ShiftRightLogical(b2, U32(12, shape)));
                var word = Lax.Or(Lax.ShiftLeft(Lax.ConvertElementType(upper, DType.Int64), Full(32, DType.Int64, shape)),
                                  Lax.ConvertElementType(lower, DType.Int64));
                return Lax.Sub(Lax.BitcastConvertType(word, DType.Float64), Full(1, DType.Float64, shape));
            }
            case DType.Float16:
            case DType.BFloat16:
            {
                // JAX draws 16 bits (float16) or 8 bits (bfloat16, fewer than 8 mantissa bits) and keeps the top
                // mantissa-width of them; mantissa · 2^-nmant is exactly the bitcast float minus one.
                int nmant = MantissaBits(dtype), rngBits = dtype == DType.Float16 ? 16 : 8;
                var bits = Lax.And(Bits(key, shape), U32((1u << rngBits) - 1, shape));
                var mant = Lax.ShiftRightLogical(bits, U32((uint)(rngBits - nmant), shape));
                var f = Lax.Mul(Lax.ConvertElementType(mant, DType.Float32), Full(Math.Pow(2, -nmant), DType.Float32, shape));
                return Lax.ConvertElementType(f, dtype);
            }
            default:
                throw new DTypeError($"Random: dtype must be floating-point, got {dtype.Name()}");
        }
    }

    private static (Tensor K1, Tensor K2) KeyWords(Tensor key) =>
        (Lax.Squeeze(Lax.Slice(key, [0], [1]), [0]), Lax.Squeeze(Lax.Slice(key, [1], [2]), [0]));

    private static Tensor Row(Tensor keys, int i) => Lax.Squeeze(Lax.Slice(keys, [i, 0], [i + 1, 2]), [0]);

    private static void CheckKey(Tensor key, string op)
    {
        if (key.DType != DType.UInt32)
            throw new DTypeError($"Random.{op}: a key is a uint32 tensor of shape (2,) made by Random.Key, Split or FoldIn, got a {key.DType.Name()} tensor of shape {key.Shape}");
        if (key.Shape != new Shape(2))
            throw new ShapeError($"Random.{op}: expected a single key of shape (2,), got shape {key.Shape}" +
                (key.Rank == 2 && key.Shape[1] == 2 ? "; this looks like a batch of keys from Random.Split — take one with keys[i], or map over them with Vmap" : ""));
    }

    private static void CheckFloat(string op, DType dtype)
    {
        if (!dtype.IsFloating())
            throw new DTypeError($"Random.{op}: dtype must be floating-point, got {dtype.Name()}" + (dtype.IsInteger() ? "; for integers use Random.Randint" : ""));
    }

    private static void CheckBroadcastsTo(string op, Shape shape, params (string Name, Shape Shape)[] parameters)
    {
        foreach (var (name, s) in parameters)
        {
            bool ok = s.Rank <= shape.Rank;
            for (int i = 0; ok && i < s.Rank; i++)
            {
                int d = s[i], t = shape[shape.Rank - s.Rank + i];
                ok = d == t || d == 1;
            }
            if (!ok)
                throw new ShapeError($"Random.{op}: {name} of shape {s} must broadcast to the requested shape {shape}");
        }
    }

    private static int MantissaBits(DType d) => d switch
    {
        DType.Float64 => 52,
        DType.Float32 => 23,
        DType.Float16 => 10,
        DType.BFloat16 => 7,
        _ => throw new DTypeError($"Random: dtype must be floating-point, got {d.Name()}"),
    };

    private static double SmallestNormal(DType d) => d switch
    {
        DType.Float64 => Math.Pow(2, -1022),
        DType.Float16 => Math.Pow(2, -14),
        _ => Math.Pow(2, -126), // float32 and bfloat16
    };

    private static double MaxOf(DType d) => d == DType.UInt32 ? uint.MaxValue : d == DType.Int64 ? long.MaxValue : int.MaxValue;
    private static double MinOf(DType d) => d == DType.UInt32 ? 0 : d == DType.Int64 ? long.MinValue : int.MinValue;

    /// <summary>jnp's _convert_and_clip_integer: clamps val to the range both dtypes share, then converts.</summary>
    private static Tensor ConvertAndClip(Tensor val, DType to)
    {
        var from = val.DType;
        double lo = Math.Max(MinOf(to), MinOf(from)), hi = Math.Min(MaxOf(to), MaxOf(from));
        var clamped = Lax.Clamp(Scalar(lo, from), Lax.ConvertElementType(val, from), Scalar(hi, from));
        return Lax.ConvertElementType(clamped, to);
    }

    /// <summary>The bits of an int32 as uint32 (two's complement), other integers converted.</summary>
    private static Tensor ToUInt32(Tensor x) => x.DType switch
    {
        DType.UInt32 => x,
        DType.Int32 => Lax.BitcastConvertType(x, DType.UInt32),
        _ => Lax.ConvertElementType(x, DType.UInt32),
    };

    private static Tensor U32(uint v, Shape shape) => Lax.BroadcastInDim(Tensor.Scalar(v), shape, []);
    private static Tensor Scalar(double v, DType d) => Conversions.Convert(Tensor.Scalar(v), new Aval(Shape.Scalar, d));
    private static Tensor Full(double v, DType d, Shape shape) => Lax.BroadcastInDim(Scalar(v, d), shape, []);
}
