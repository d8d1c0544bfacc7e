using System.Runtime.Intrinsics;
namespace Jx;

/// <summary>The counter-based hash under <see cref="Random"/>: <c>threefry2x32</c>, JAX's Threefry-2x32 block cipher
/// with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), bit for bit as
/// <c>jax._src.prng.threefry2x32_p</c>.</summary>
/// <example><code>
/// var z = Tensor.FromArray(new uint[] { 0 });
/// var outs = RandomBits.Threefry2x32.Bind([z, z, z, z]); // [0x6b200159], [0x99ba4efe]
/// </code></example>
[PrimitiveFamily]
public static class RandomBits
{
    /// <summary>threefry2x32(k1, k2, x1, x2) → (y1, y2): four uint32 operands of one shape (the key words k1, k2 and
    /// the counter words x1, x2; <see cref="Random"/> broadcasts the scalar key words first), two uint32 results of
    /// that shape, elementwise.</summary>
    public static readonly Primitive Threefry2x32 = new("threefry2x32", "random", AbstractEval, Kernel, multipleResults: true);

    private static readonly int[] Rotations0 = [13, 15, 26, 6];
    private static readonly int[] Rotations1 = [17, 29, 16, 24];

    private static Aval[] AbstractEval(Aval[] ins, Params p)
    {
        if (ins.Length != 4)
            throw new InvalidArgumentError($"'threefry2x32' takes 4 operands (k1, k2, x1, x2), got {ins.Length}");
        foreach (var a in ins)
            if (a.DType != DType.UInt32)
                throw new DTypeError($"'threefry2x32' takes uint32 operands, got {string.Join(", ", ins.Select(x => x.DType.Name()))}; convert with x.AsType(DType.UInt32)");
        var shape = ins[0].Shape;
        for (int i = 1; i < 4; i++)
            if (ins[i].Shape != shape)
                throw new ShapeError($"'threefry2x32' requires operands of one shape, got {string.Join(", ", ins.Select(x => x.Shape.ToString()))}; broadcast the key words to the counters' shape first");
        var o = new Aval(shape, DType.UInt32);
        return [o, o];
    }

    private static Tensor[] Kernel(Tensor[] xs, Params p, Aval[] o)
    {
        int n = o[0].Size;
        var k1 = new Words(xs[0].Buffer!);
        var k2 = new Words(xs[1].Buffer!);
        var c1 = new Words(xs[2].Buffer!);
        var c2 = new Words(xs[3].Buffer!);
        var y1 = new uint[n];
        var y2 = new uint[n];
        KernelUtil.For(n, (s, e) =>
        {
            int i = s;
            if (Vector512.IsHardwareAccelerated)
                for (; i + 16 <= e; i += 16)
                {
                    var (a, b) = Hash(k1.Load(i), k2.Load(i), c1.Load(i), c2.Load(i));
                    a.CopyTo(y1, i);
                    b.CopyTo(y2, i);
                }
            for (; i < e; i++)
            {
                var (a, b) = Hash(k1[i], k2[i], c1[i], c2[i]);
                y1[i] = a;
                y2[i] = b;
            }
        }, 4096);
        var device = xs[0].Buffer!.Device;
        return [KernelUtil.Wrap(y1, o[0], device), KernelUtil.Wrap(y2, o[1], device)];
    }

    /// <summary>A uint32 operand read either from its array or from its single splat value.</summary>
    private readonly struct Words
    {
        private readonly uint[]? _data;
        private readonly uint _value;
        public Words(Buffer b)
        {
            if (b.IsSplat && b.TryGetSplat<uint>(out var v)) { _value = v; _data = null; }
            else { _data = b.Array<uint>(); _value = 0; }
        }
        public uint this[int i] => _data is null ? _value : _data[i];
        /// <summary>Sixteen words from index i (the splat value in every lane for a splat).</summary>
        public Vector512<uint> Load(int i) => _data is null ? Vector512.Create(_value) : Vector512.Create(_data.AsSpan(i, 16));
    }

    /// <summary><see cref="Hash(uint, uint, uint, uint)"/> of sixteen (key, counter) pairs at once, lane by lane.</summary>
    public static (Vector512<uint> Y1, Vector512<uint> Y2) Hash(Vector512<uint> key1, Vector512<uint> key2, Vector512<uint> x1, Vector512<uint> x2)
    {
        var ks2 = key1 ^ key2 ^ Vector512.Create(0x1BD11BDAu);
        x1 += key1;
        x2 += key2;
        for (int group = 1; group <= 5; group++)
        {
            var rot = group % 2 == 1 ? Rotations0 : Rotations1;
            for (int r = 0; r < 4; r++)
            {
                x1 += x2;
                x2 = Vector512.ShiftLeft(x2, rot[r]) | Vector512.ShiftRightLogical(x2, 32 - rot[r]);
                x2 ^= x1;
            }
            var (ka, kb) = (group % 3) switch { 0 => (key1, key2), 1 => (key2, ks2), _ => (ks2, key1) };
            x1 += ka;
            x2 += kb + Vector512.Create((uint)group);
        }
        return (x1, x2);
    }

    /// <summary>Threefry-2x32 with 20 rounds of one (key, counter) pair.</summary>
    public static (uint Y1, uint Y2) Hash(uint key1, uint key2, uint x1, uint x2)
    {
        Span<uint> ks = [key1, key2, key1 ^ key2 ^ 0x1BD11BDAu];
        unchecked
        {
            x1 += ks[0];
            x2 += ks[1];
            for (int group = 1; group <= 5; group++)
            {
                var rot = group % 2 == 1 ? Rotations0 : Rotations1;
                for (int r = 0; r < 4; r++)
                {
                    x1 += x2;
                    x2 = (x2 << rot[r]) | (x2 >> (32 - rot[r]));
                    x2 ^= x1;
                }
                x1 += ks[group % 3];
                x2 += ks[(group + 1) % 3] + (uint)group;
            }
        }
        return (x1, x2);
    }
}
