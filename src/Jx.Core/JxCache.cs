namespace Jx;

/// <summary>Where Jx keeps what it writes to disk between processes: compiled kernels (Jx.Jit's disk cache) and the
/// startup profile (<see cref="StartupProfile"/>). <c>JX_CACHE_DIR</c> chooses the folder; by default it is
/// <c>~/.cache/jx</c>.</summary>
/// <example><code>Console.WriteLine(JxCache.Directory); // e.g. /home/me/.cache/jx</code></example>
public static class JxCache
{
    /// <summary>The cache folder, as a full path: <c>JX_CACHE_DIR</c> when set, else <c>.cache/jx</c> under the user's
    /// home folder (under the temporary folder when there is no home folder). Read on every use, so a test or a host
    /// can point it elsewhere at run time.</summary>
    public static string Directory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("JX_CACHE_DIR") is { Length: > 0 } d) return Path.GetFullPath(d);
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return home.Length > 0 ? Path.Combine(home, ".cache", "jx") : Path.Combine(Path.GetTempPath(), "jx-cache");
        }
    }
}
