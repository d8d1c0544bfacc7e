using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Jx;

/// <summary>Compiles generated C# with Roslyn into an in-memory assembly, with an on-disk cache of compiled assemblies
/// (JX_CACHE_DIR, default ~/.cache/jx) keyed by a hash of the source and the Jx and runtime versions. Entries are written
/// atomically (temp file + rename); a corrupt or stale entry fails to load and is rewritten, never used.</summary>
internal static class RoslynCompiler
{
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        var tpa = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "").Split(Path.PathSeparator);
        var refs = tpa.Where(p => p.Length > 0 && (Path.GetFileName(p).StartsWith("System.") || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll"))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        refs.Add(MetadataReference.CreateFromFile(typeof(Tensor).Assembly.Location));
        refs.Add(MetadataReference.CreateFromFile(typeof(JitRuntime).Assembly.Location));
        return refs.ToArray();
    });

    public static string CacheDir => JxCache.Directory;

    private static string VersionTag => $"{typeof(Tensor).Assembly.ManifestModule.ModuleVersionId}-{typeof(JitRuntime).Assembly.ManifestModule.ModuleVersionId}-{Environment.Version}";

    public static int CompileCount;
    /// <summary>How many programs were loaded from the disk cache instead of compiled.</summary>
    public static int DiskHits;

    /// <summary>The key of a program's marker in the disk cache: its jaxpr's text and the values of its constants that
    /// the kernels compile in as literals (splats); other constants are arrays the program reads at run time.
    /// Computed once per jaxpr (printing a training step's jaxpr is not free, and a tiered first call asks for it twice:
    /// whether the program is on disk, then to mark it).</summary>
    public static string ProgramKey(ClosedJaxpr jaxpr) => ProgramKeys.GetValue(jaxpr, static j =>
        j + "\n" + string.Join(",", j.Consts.Select(c =>
            c.IsConcrete && c.Buffer!.IsSplat ? c.Buffer.GetDouble(0).ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "array")));

    private static readonly ConditionalWeakTable<ClosedJaxpr, string> ProgramKeys = new();

    /// <summary>Whether the program with this key was compiled into the disk cache before (by this version of Jx and the
    /// runtime) and the assemblies its marker lists are all there.</summary>
    public static bool HasProgram(string key)
    {
        try
        {
            var marker = ProgramMarker(key);
            if (!File.Exists(marker)) return false;
            var hashes = File.ReadAllLines(marker);
            return hashes.Length > 0 && hashes.All(h => File.Exists(Path.Combine(CacheDir, h + ".dll")));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>Records in the disk cache that the program with this key has its kernels there, in the assemblies with
    /// these hashes (the program's own and its loop bodies'), one per line.</summary>
    public static void MarkProgram(string key, IReadOnlyCollection<string> assemblies)
    {
        if (assemblies.Count == 0) return; // nothing compiled: nothing to load
        var path = ProgramMarker(key);
        if (!File.Exists(path)) WriteAtomically(path, tmp => File.WriteAllLines(tmp, assemblies));
    }

    private static string ProgramMarker(string key) => Path.Combine(CacheDir, Hash(key) + ".program");

    /// <summary>Writes a cache file through a temporary file and a rename, so that a reader never sees it half written;
    /// a cache folder that cannot be written is ignored (the cache is an optimization).</summary>
    private static void WriteAtomically(string path, Action<string> write)
    {
        try
        {
            Directory.CreateDirectory(CacheDir);
            var tmp = path + "." + Environment.ProcessId + "." + Guid.NewGuid().ToString("N") + ".tmp";
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static string Hash(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(VersionTag + "\n" + text)))[..32];

    /// <summary>Compiles every kernel of a loaded program to machine code now, on all cores (the runtime would otherwise
    /// compile each on its first run, one after another, about 1 ms each).</summary>
    private static void PrepareKernels(Assembly asm)
    {
        if (asm.GetType("JxProgram") is not { } type) return;
        var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly);
        Parallel.ForEach(methods, m => RuntimeHelpers.PrepareMethod(m.MethodHandle));
    }

    /// <summary>The compiled assembly of <paramref name="source"/>, from the disk cache or from Roslyn;
    /// its kernels are compiled to machine code before it is returned. <paramref name="hash"/> names it in the cache.</summary>
    public static Assembly Compile(string source, string name, out string hash, bool useCache = true)
    {
        hash = Hash(source);
        string? path = useCache ? Path.Combine(CacheDir, hash + ".dll") : null;
        if (path is not null && File.Exists(path))
        {
            try
            {
                var bytes = File.ReadAllBytes(path);
                var asm = Load(bytes);
                Interlocked.Increment(ref DiskHits);
                PrepareKernels(asm);
                return asm;
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or IOException)
            {
                // Corrupt or stale: fall through and rewrite it.
            }
        }
        StartupProfile.StopBeforeCompiler();
        var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest));
        var comp = CSharpCompilation.Create("JxKernels_" + hash, [tree], References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, allowUnsafe: true));
        using var ms = new MemoryStream();
        var result = comp.Emit(ms);
        if (!result.Success)
        {
            var errors = string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10));
            throw new InvalidOperationException($"Jx internal error: generated code for '{name}' did not compile:\n{errors}\n--- source ---\n{source}");
        }
        Interlocked.Increment(ref CompileCount);
        var image = ms.ToArray();
        if (path is not null) WriteAtomically(path, tmp => File.WriteAllBytes(tmp, image));
        var compiled = Load(image);
        PrepareKernels(compiled);
        return compiled;
    }

    private static Assembly Load(byte[] image)
    {
        var ctx = new AssemblyLoadContext("jx-kernels", isCollectible: false);
        using var ms = new MemoryStream(image);
        return ctx.LoadFromStream(ms);
    }
}
