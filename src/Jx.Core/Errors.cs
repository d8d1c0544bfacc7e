using System.Diagnostics;

namespace Jx;

/// <summary>The base of every error Jx raises for bad input. The message says what went wrong, in which operation,
/// and how to fix it; <see cref="UserLocation"/> is the caller's source file and line when it can be found.</summary>
/// <example><code>
/// try { Np.Add(Np.Zeros([2, 3]), Np.Zeros([4])); }
/// catch (ShapeError e) { Console.WriteLine(e.Message); } // names both shapes, the op and your line
/// </code></example>
public class JxException : Exception
{
    /// <summary>The user's source location ("file.cs:42") of the call that failed, when debug symbols allow finding it.</summary>
    public string? UserLocation { get; }

    public JxException(string message) : this(message, null) { }

    public JxException(string message, Exception? inner) : base(Compose(message, out var loc), inner) => UserLocation = loc;

    private static string Compose(string message, out string? location)
    {
        location = FindUserFrame();
        return location is null ? message : $"{message}\n  at {location}";
    }

    /// <summary>The first stack frame outside the Jx assemblies, with file and line when PDBs are present.</summary>
    internal static string? FindUserFrame()
    {
        try
        {
            var st = new StackTrace(2, true);
            foreach (var f in st.GetFrames())
            {
                var m = f.GetMethod();
                var asm = m?.DeclaringType?.Assembly.GetName().Name;
                if (asm is null || asm.StartsWith("Jx.Core") || asm.StartsWith("Jx.Transforms") || asm.StartsWith("Jx.Jit")
                    || asm.StartsWith("Jx.Flax") || asm.StartsWith("System.") || asm == "System" || asm.StartsWith("Microsoft."))
                    continue;
                var file = f.GetFileName();
                var where = $"{m!.DeclaringType?.Name}.{m.Name}";
                return file is null ? where : $"{where} in {Path.GetFileName(file)}:{f.GetFileLineNumber()}";
            }
        }
        catch (Exception) { }
        return null;
    }
}

/// <summary>Operands' shapes do not fit the operation (broadcasting, matmul dimensions, reshape sizes...).</summary>
public class ShapeError(string message) : JxException(message);

/// <summary>An operation got a dtype it does not accept, or types that cannot be combined.</summary>
public class DTypeError(string message) : JxException(message);

/// <summary>An axis is out of range for the array's rank, or repeated.</summary>
public class AxisError(string message) : JxException(message);

/// <summary>An index is out of range, or an indexing expression is malformed.</summary>
public class JxIndexError(string message) : JxException(message);

/// <summary>A traced value was read as a concrete C# value (Item, ToArray, an if on a comparison) inside a transform.</summary>
public class ConcretizationError(string message) : JxException(message);

/// <summary>A tracer was used after the transform that created it had finished: a value leaked out of a traced function.</summary>
public class EscapedTracerError(string message) : JxException(message);

/// <summary>Two pytrees that must have the same structure do not, or a value is not a pytree.</summary>
public class TreeStructureError(string message) : JxException(message);

/// <summary>Tensors on different devices were combined, or a device does not exist.</summary>
public class DeviceError(string message) : JxException(message);

/// <summary>An argument's value is invalid for the operation (a negative size, an unknown mode, a ragged array...).</summary>
public class InvalidArgumentError(string message) : JxException(message);
