namespace Jx;

/// <summary>The named axes in scope on this thread (pushed by Vmap/Pmap with an axis name), innermost last; collectives
/// (Lax.Psum, AxisIndex, ...) resolve their axis names here.</summary>
public static class AxisEnv
{
    public sealed record Frame(string Name, int Size, MainTrace Main);

    [ThreadStatic] private static List<Frame>? _frames;
    private static List<Frame> Frames => _frames ??= [];

    public static IDisposable Push(string name, int size, MainTrace main)
    {
        Frames.Add(new Frame(name, size, main));
        return new Pop();
    }

    private sealed class Pop : IDisposable
    {
        public void Dispose() => Frames.RemoveAt(Frames.Count - 1);
    }

    /// <summary>The innermost frame with this name, or a clear error listing the names in scope.</summary>
    public static Frame Find(string name, string op)
    {
        for (int i = Frames.Count - 1; i >= 0; i--)
            if (Frames[i].Name == name) return Frames[i];
        var names = Frames.Select(f => $"'{f.Name}'").ToArray();
        throw new UnboundAxisNameError($"{op}: unbound axis name '{name}'. " +
            (names.Length == 0 ? "No named axes are in scope: give Vmap (or Pmap) an axisName, e.g. Vmap(f, axisName: \"i\")." : $"The axis names in scope are {string.Join(", ", names)}."));
    }

    /// <summary>The innermost frame with this name, or null when no enclosing transform defines it.</summary>
    internal static Frame? TryFind(string name)
    {
        if (_frames is not { } frames) return null;
        for (int i = frames.Count - 1; i >= 0; i--)
            if (frames[i].Name == name) return frames[i];
        return null;
    }

    public static IReadOnlyList<Frame> InScope => Frames;
}

/// <summary>A collective named an axis that no enclosing Vmap/Pmap defines.</summary>
public class UnboundAxisNameError(string message) : JxException(message);
