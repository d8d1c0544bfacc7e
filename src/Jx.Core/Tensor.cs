using System.Runtime.CompilerServices;

namespace Jx;

/// <summary>An immutable, row-major n-d array — concrete (a buffer on a device) or a tracer inside a transform.
/// Operators follow NumPy broadcasting and JAX type promotion; C# literals are weakly typed, so <c>x * 2</c> keeps
/// <c>x</c>'s dtype.</summary>
/// <example><code>
/// var x = Np.Array(new float[,] { { 1, 2 }, { 3, 4 } });
/// var y = (x * 2 + 1).Sum();
/// Console.WriteLine(y.Item&lt;float&gt;()); // 24
/// </code></example>
public partial class Tensor
{
    internal readonly Buffer? Buffer;
    private readonly Aval? _aval;
    /// <summary>The exact value of a weakly typed literal made from a C# double, kept so that converting it to
    /// float64 loses nothing.</summary>
    internal readonly double? ExactLiteral;

    internal Tensor(Buffer buffer, Shape shape, bool weak = false, double? exact = null)
    {
        if (buffer.Length != shape.Size)
            throw new InvalidOperationException($"buffer of {buffer.Length} elements for shape {shape}");
        Buffer = buffer;
        _aval = new Aval(shape, buffer.DType, weak);
        ExactLiteral = exact;
    }

    /// <summary>Over a buffer, with an abstract value that is already at hand (a compiled program's slot type): no new
    /// <see cref="Jx.Aval"/> per tensor.</summary>
    internal Tensor(Buffer buffer, Aval aval)
    {
        if (buffer.Length != aval.Size || buffer.DType != aval.DType)
            throw new InvalidOperationException($"buffer of {buffer.Length} {buffer.DType.Name()} elements for {aval}");
        Buffer = buffer;
        _aval = aval;
    }

    /// <summary>For tracers.</summary>
    protected Tensor() { }

    public virtual Aval Aval => _aval!;
    public Shape Shape => Aval.Shape;
    public DType DType => Aval.DType;
    public int Rank => Aval.Shape.Rank;
    public int Size => Aval.Shape.Size;
    /// <summary>True for weakly typed values (from C# literals), which give way to the other operand's dtype.</summary>
    public bool WeakType => Aval.Weak;
    /// <summary>True for a tensor that holds data; false for a tracer inside a transform.</summary>
    public virtual bool IsConcrete => true;

    /// <summary>The device that holds this tensor.</summary>
    public Device Device => Concrete("Device").Buffer!.Device;

    // ----- creation -----

    /// <summary>A tensor from a flat array and a shape (row-major); the array is copied.</summary>
    public static Tensor FromArray<T>(T[] data, Shape? shape = null) where T : struct
    {
        shape ??= new Shape(data.Length);
        if (shape.Size != data.Length)
            throw new ShapeError($"cannot make a tensor of shape {shape} ({shape.Size} elements) from {data.Length} values");
        return new Tensor(new Buffer((T[])data.Clone(), DTypes.Of<T>(), Device.Default), shape);
    }

    /// <summary>Wraps an array without copying; the caller must never write to it again.</summary>
    internal static Tensor Own<T>(T[] data, Shape shape, bool weak = false) where T : struct =>
        new(new Buffer(data, DTypes.Of<T>(), Device.Default), shape, weak);

    internal static Tensor Own(Array data, DType dtype, Shape shape, Device? device = null, bool weak = false) =>
        new(new Buffer(data, dtype, device ?? Device.Default), shape, weak);

    /// <summary>A rank-0 tensor of the C# value's own dtype (strongly typed).</summary>
    public static Tensor Scalar<T>(T value) where T : struct => Own(new[] { value }, Shape.Scalar);

    /// <summary>A tensor whose every element is <paramref name="value"/>, stored once (a splat).</summary>
    internal static Tensor Splat<T>(T value, Shape shape, bool weak = false, Device? device = null) where T : struct =>
        new(Buffer.Splat(value, shape.Size, device ?? Device.Default), shape, weak);

    // C# literals convert to weakly typed scalars, as Python scalars do in JAX.
    public static implicit operator Tensor(float v) => Splat(v, Shape.Scalar, weak: true);
    public static implicit operator Tensor(double v) => new(Buffer.Splat((float)v, 1, Device.Default), Shape.Scalar, weak: true, exact: v);
    public static implicit operator Tensor(int v) => Splat(v, Shape.Scalar, weak: true);
    public static implicit operator Tensor(long v) => v is >= int.MinValue and <= int.MaxValue ? Splat((int)v, Shape.Scalar, weak: true)
        : throw new DTypeError($"the integer literal {v} does not fit int32, the dtype of weakly typed integer literals (as in JAX); make an int64 tensor instead, e.g. Tensor.Scalar({v}L)");
    public static implicit operator Tensor(bool v) => Splat(v, Shape.Scalar);
    public static implicit operator Tensor(float[] v) => FromArray(v);
    public static implicit operator Tensor(double[] v) => FromArray(v);
    public static implicit operator Tensor(int[] v) => FromArray(v);
    public static implicit operator Tensor(float[,] v) => Np.Array(v);
    public static implicit operator Tensor(double[,] v) => Np.Array(v);
    public static implicit operator Tensor(int[,] v) => Np.Array(v);

    // ----- reading back -----

    /// <summary>The concrete tensor behind this value, or a <see cref="ConcretizationError"/> that explains the fix.</summary>
    internal Tensor Concrete(string operation)
    {
        if (this is not Tracer t)
        {
            if (Buffer!.DonatedTo is string donee)
                throw new DonatedBufferError($"{operation} on an array that was donated to jitted '{donee}' (donateArgnums); use the function's outputs instead, or do not donate the argument.");
            return this;
        }
        if (!t.Trace.Main.Alive) throw TraceStack.Escaped(t, null);
        var c = t.ToConcrete();
        if (c is not null) return c.Concrete(operation);
        throw new ConcretizationError(
            $"Attempted {operation} on a traced value {t.Aval} inside {t.Trace.Main.Name} (transforms running: {TraceStack.Describe()}). " +
            "Its value is not known while the function is being traced, so C# cannot read it. " +
            "For data-dependent control flow use Lax.Cond, Lax.Select or Np.Where instead of a C# if; " +
            "if the value is a configuration constant, pass it as a static argument (staticArgnums) or compute it outside the transformed function.");
    }

    /// <summary>Copies the elements out as a flat row-major array; <typeparamref name="T"/> must match the dtype.</summary>
    public T[] ToArray<T>() where T : struct
    {
        var c = Concrete("ToArray()");
        var want = DTypes.Of<T>();
        if (want != c.DType)
            throw new DTypeError($"ToArray<{typeof(T).Name}>() on a {c.DType.Name()} tensor; call ToArray<{c.DType.ClrType().Name}>() or convert first with x.AsType(DType.{want})");
        return (T[])c.Buffer!.Array<T>().Clone();
    }

    /// <summary>The single element of a size-1 tensor, converted to <typeparamref name="T"/> (floats to integers truncate;
    /// a value that does not fit <typeparamref name="T"/> is a <see cref="DTypeError"/>).</summary>
    public T Item<T>() where T : struct
    {
        var c = Concrete("Item()");
        if (c.Size != 1) throw new ShapeError($"Item() needs a tensor with one element, got shape {c.Shape}; index it first, e.g. x[0]");
        var d = c.Buffer!.GetDouble(0);
        object r;
        try
        {
            r = ItemAs<T>(c, d);
        }
        catch (OverflowException)
        {
            throw new DTypeError($"Item<{typeof(T).Name}>(): the {c.DType.Name()} value {d.ToString(System.Globalization.CultureInfo.InvariantCulture)} does not fit {typeof(T).Name}; read it as a wider type, e.g. Item<double>()");
        }
        return (T)r;
    }

    private static object ItemAs<T>(Tensor c, double d) where T : struct
    {
        object r = typeof(T) == typeof(float) ? (object)(float)(c.DType == DType.Float32 ? c.Buffer!.Get<float>(0) : d)
            : typeof(T) == typeof(double) ? d
            : typeof(T) == typeof(int) ? (c.DType == DType.Int32 ? c.Buffer!.Get<int>(0) : checked((int)d))
            : typeof(T) == typeof(long) ? (c.DType == DType.Int64 ? c.Buffer!.Get<long>(0) : checked((long)d))
            : typeof(T) == typeof(uint) ? (c.DType == DType.UInt32 ? c.Buffer!.Get<uint>(0) : checked((uint)d))
            : typeof(T) == typeof(bool) ? d != 0
            : typeof(T) == typeof(Half) ? (Half)d
            : typeof(T) == typeof(BFloat16) ? (BFloat16)d
            : throw new DTypeError($"Item<{typeof(T).Name}>() is not supported");
        return r;
    }

    /// <summary>The value as a double (any dtype).</summary>
    public double Item() => Item<double>();

    /// <summary>Elements as doubles, for tests and printing (any dtype).</summary>
    public double[] ToDoubleArray()
    {
        var c = Concrete("ToDoubleArray()");
        var r = new double[c.Size];
        for (int i = 0; i < r.Length; i++) r[i] = c.Buffer!.GetDouble(i);
        return r;
    }

    // `if (x < y)` works on concrete tensors and raises the concretization error on tracers.
    public static bool operator true(Tensor t) => t.ToBool("a C# if/while on a tensor");
    public static bool operator false(Tensor t) => !t.ToBool("a C# if/while on a tensor");
    public static explicit operator bool(Tensor t) => t.ToBool("(bool) conversion");
    public static explicit operator float(Tensor t) => t.Item<float>();
    public static explicit operator double(Tensor t) => t.Item<double>();
    public static explicit operator int(Tensor t) => t.Item<int>();

    private bool ToBool(string operation)
    {
        var c = Concrete(operation);
        if (c.Size != 1)
            throw new ShapeError($"The truth value of a tensor with shape {c.Shape} is ambiguous; use Np.Any(x) or Np.All(x).");
        return c.Buffer!.GetDouble(0) != 0;
    }

    public override string ToString() => IsConcrete ? TensorFormatter.Format(this) : base.ToString()!;

    // ----- operators (NumPy broadcasting, JAX promotion) -----

    public static Tensor operator +(Tensor a, Tensor b) => Np.Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Np.Subtract(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Np.Multiply(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Np.Divide(a, b);
    public static Tensor operator %(Tensor a, Tensor b) => Np.Remainder(a, b);
    public static Tensor operator -(Tensor a) => Np.Negative(a);
    public static Tensor operator <(Tensor a, Tensor b) => Np.Less(a, b);
    public static Tensor operator >(Tensor a, Tensor b) => Np.Greater(a, b);
    public static Tensor operator <=(Tensor a, Tensor b) => Np.LessEqual(a, b);
    public static Tensor operator >=(Tensor a, Tensor b) => Np.GreaterEqual(a, b);
    public static Tensor operator &(Tensor a, Tensor b) => Np.BitwiseAnd(a, b);
    public static Tensor operator |(Tensor a, Tensor b) => Np.BitwiseOr(a, b);
    public static Tensor operator ^(Tensor a, Tensor b) => Np.BitwiseXor(a, b);
    public static Tensor operator !(Tensor a) => Np.LogicalNot(a);
    public static Tensor operator ~(Tensor a) => Np.BitwiseNot(a);
}
