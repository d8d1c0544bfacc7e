using System.Runtime.InteropServices;

namespace Jx;

/// <summary>The bfloat16 format: the top 16 bits of a float32 (8 exponent bits, 7 mantissa bits).
/// Conversion from float32 rounds to nearest even, as JAX and XLA do.</summary>
/// <example><code>var b = (BFloat16)1.5f; float f = (float)b; // 1.5</code></example>
[StructLayout(LayoutKind.Sequential)]
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>
{
    /// <summary>The raw 16 bits.</summary>
    public readonly ushort Bits;

    private BFloat16(ushort bits) => Bits = bits;

    public static BFloat16 FromBits(ushort bits) => new(bits);

    public static explicit operator BFloat16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return new BFloat16((ushort)((u >> 16) | 0x40));
        uint rounding = 0x7FFFu + ((u >> 16) & 1u);
        return new BFloat16((ushort)((u + rounding) >> 16));
    }

    public static explicit operator float(BFloat16 b) => BitConverter.UInt32BitsToSingle((uint)b.Bits << 16);
    public static explicit operator double(BFloat16 b) => (float)b;
    public static explicit operator BFloat16(double d) => FromDouble(d);

    /// <summary>Rounds a double to bfloat16 once (to nearest even): the double is first narrowed to float32 with
    /// round-to-odd, which keeps the later rounding exact.</summary>
    public static BFloat16 FromDouble(double d)
    {
        float f = (float)d;
        if (!float.IsFinite(f) || (double)f == d) return (BFloat16)f;
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (Math.Abs((double)f) > Math.Abs(d)) bits -= 1; // truncate toward zero
        bits |= 1;                                        // sticky bit: round to odd
        return (BFloat16)BitConverter.UInt32BitsToSingle(bits);
    }

    public bool Equals(BFloat16 other) => (float)this == (float)other;
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);
    public override int GetHashCode() => ((float)this).GetHashCode();
    public int CompareTo(BFloat16 other) => ((float)this).CompareTo((float)other);
    public override string ToString() => ((float)this).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
