namespace Jx;

/// <summary>Element types of a <see cref="Tensor"/>. Float16 and BFloat16 are stored compactly and computed in float32.</summary>
/// <example><code>var x = Np.Zeros([2, 3], DType.Float64); // x.DType == DType.Float64</code></example>
public enum DType : byte
{
    Bool,
    Int32,
    Int64,
    UInt32,
    Float16,
    BFloat16,
    Float32,
    Float64,
}

/// <summary>Facts about each <see cref="DType"/>: its short name (as JAX prints it), size, kind and CLR element type.</summary>
public static class DTypes
{
    /// <summary>The short name JAX uses in jaxprs: f32, i32, bool, ...</summary>
    public static string ShortName(this DType d) => d switch
    {
        DType.Bool => "bool",
        DType.Int32 => "i32",
        DType.Int64 => "i64",
        DType.UInt32 => "u32",
        DType.Float16 => "f16",
        DType.BFloat16 => "bf16",
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    /// <summary>The NumPy-style name: float32, int32, bool, ...</summary>
    public static string Name(this DType d) => d switch
    {
        DType.Bool => "bool",
        DType.Int32 => "int32",
        DType.Int64 => "int64",
        DType.UInt32 => "uint32",
        DType.Float16 => "float16",
        DType.BFloat16 => "bfloat16",
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    public static int ItemSize(this DType d) => d switch
    {
        DType.Bool => 1,
        DType.Int32 or DType.UInt32 or DType.Float32 => 4,
        DType.Int64 or DType.Float64 => 8,
        DType.Float16 or DType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    public static bool IsFloating(this DType d) => d is DType.Float16 or DType.BFloat16 or DType.Float32 or DType.Float64;
    public static bool IsInteger(this DType d) => d is DType.Int32 or DType.Int64 or DType.UInt32;
    public static bool IsSignedInteger(this DType d) => d is DType.Int32 or DType.Int64;
    public static bool IsUnsigned(this DType d) => d is DType.UInt32;
    public static bool IsBool(this DType d) => d is DType.Bool;
    /// <summary>Half-precision types that are stored compactly and computed in float32.</summary>
    public static bool IsHalf(this DType d) => d is DType.Float16 or DType.BFloat16;

    /// <summary>The CLR type that stores one element.</summary>
    public static Type ClrType(this DType d) => d switch
    {
        DType.Bool => typeof(bool),
        DType.Int32 => typeof(int),
        DType.Int64 => typeof(long),
        DType.UInt32 => typeof(uint),
        DType.Float16 => typeof(Half),
        DType.BFloat16 => typeof(BFloat16),
        DType.Float32 => typeof(float),
        DType.Float64 => typeof(double),
        _ => throw new ArgumentOutOfRangeException(nameof(d)),
    };

    /// <summary>The dtype that stores CLR type <typeparamref name="T"/>.</summary>
    public static DType Of<T>() => FromClr(typeof(T));

    public static DType FromClr(Type t)
    {
        if (t == typeof(bool)) return DType.Bool;
        if (t == typeof(int)) return DType.Int32;
        if (t == typeof(long)) return DType.Int64;
        if (t == typeof(uint)) return DType.UInt32;
        if (t == typeof(Half)) return DType.Float16;
        if (t == typeof(BFloat16)) return DType.BFloat16;
        if (t == typeof(float)) return DType.Float32;
        if (t == typeof(double)) return DType.Float64;
        throw new DTypeError($"C# element type {t.Name} has no Jx dtype; use bool, int, long, uint, Half, BFloat16, float or double.");
    }

    /// <summary>Parses "float32", "f32", "int32", ...</summary>
    public static DType Parse(string s) => s switch
    {
        "bool" => DType.Bool,
        "int32" or "i32" => DType.Int32,
        "int64" or "i64" => DType.Int64,
        "uint32" or "u32" => DType.UInt32,
        "float16" or "f16" => DType.Float16,
        "bfloat16" or "bf16" => DType.BFloat16,
        "float32" or "f32" => DType.Float32,
        "float64" or "f64" => DType.Float64,
        _ => throw new DTypeError($"unknown dtype name '{s}'"),
    };
}
