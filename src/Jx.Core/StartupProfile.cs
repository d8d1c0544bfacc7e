using System.Reflection;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace Jx;

/// <summary>Jx's startup profile: .NET's multicore JIT (<see cref="ProfileOptimization"/>), started when Jx.Core is
/// loaded. A run records which methods the runtime compiled; the next run of the same program compiles them ahead, on
/// a spare core, while the program starts, so the tracer, the passes and the code generator are already machine code
/// when the first jitted call comes. Tracing and compiling a training step in a fresh process otherwise spends most of
/// its time in the runtime's JIT compiler, so this is what makes a warm disk cache fast. Recording stops before Jx first
/// runs the C# compiler in a process (see <see cref="StopBeforeCompiler"/>).
/// <para>The profile lives in <see cref="JxCache.Directory"/>/startup, one file per program (its entry assembly's name
/// and location). <c>JX_STARTUP_PROFILE=0</c> turns it off. The runtime records one profile per process: Jx's replaces
/// one the program started before Jx.Core loaded, and one the program starts later replaces Jx's; the runtime also
/// keeps only the first profile folder a process sets. A program with a profile of its own should set
/// <c>JX_STARTUP_PROFILE=0</c>. It does nothing on one core.</para>
/// </summary>
/// <example><code>Console.WriteLine(StartupProfile.Path ?? "off"); // the profile this process records and replays</code></example>
public static class StartupProfile
{
    /// <summary>The profile file this process records (and replayed, if it existed at start), or null when the
    /// profile is off (<c>JX_STARTUP_PROFILE=0</c>, one core, no entry assembly, or a cache folder that cannot be
    /// created).</summary>
    public static string? Path { get; private set; }

    /// <summary>Whether a profile recorded by an earlier run of this program was there to replay at start.</summary>
    public static bool Replayed { get; private set; }

    // A library's module initializer (CA2255) on purpose: the profile must start before Jx's own methods are compiled,
    // that is when Jx.Core loads; it only starts the runtime's recorder, and JX_STARTUP_PROFILE=0 turns it off.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Start()
    {
        // A module initializer must never throw: whatever goes wrong, the program runs without the profile, as the
        // runtime would by default.
        try
        {
            if (Environment.GetEnvironmentVariable("JX_STARTUP_PROFILE") == "0" || Environment.ProcessorCount < 2) return;
            if (Assembly.GetEntryAssembly() is not { } entry) return;
            // A single-file program's assembly has no location: its executable's path tells two programs apart.
            var location = entry.Location is { Length: > 0 } l ? l : Environment.ProcessPath ?? AppContext.BaseDirectory;
            var dir = System.IO.Path.Combine(JxCache.Directory, "startup");
            var name = FileName(entry.GetName().Name ?? "app", location);
            System.IO.Directory.CreateDirectory(dir);
            Replayed = File.Exists(System.IO.Path.Combine(dir, name));
            ProfileOptimization.SetProfileRoot(dir);
            ProfileOptimization.StartProfile(name);
            Path = System.IO.Path.Combine(dir, name);
        }
        catch (Exception)
        {
            Path = null;
            Replayed = false;
        }
    }

    private static int _stopped;

    /// <summary>Stops recording (the runtime writes the profile now) before Jx runs the C# compiler for the first time
    /// in this process. A later run that finds its programs in the disk cache never runs the compiler, and replaying
    /// the compiler's thousands of methods would keep the spare core busy with code it will not call.</summary>
    internal static void StopBeforeCompiler()
    {
        if (Path is null || Interlocked.Exchange(ref _stopped, 1) != 0) return;
        try { ProfileOptimization.StartProfile(null); }
        catch (Exception) { } // as at start: without a profile the program runs as the runtime would by default
    }

    /// <summary>The profile's file name for a program: its entry assembly's name and a hash of that assembly's
    /// location, so two programs (or two test hosts built in different folders) never share a profile.</summary>
    internal static string FileName(string assemblyName, string location)
    {
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(location)))[..12].ToLowerInvariant();
        var safe = new string(assemblyName.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
        return $"{safe}-{hash}.jitprofile";
    }
}
