namespace Jx;

/// <summary>Where Jx keeps what it writes to disk between processes: compiled kernels (Jx.Jit's disk cache) and the
/// startup profile (<see cref="StartupProfile"/>). <c>JX_CACHE_DIR</c> chooses the folder; by default it is
/// <c>~/.cache/jx</c>.</summary>
/// <example><code>Console.WriteLine(JxCache.Directory); // e.g. /home/me/.cache/jx</code></example>
public static class JxCache
{
    /// <summary>The cache folder: <c>JX_CACHE_DIR</c> when set, else <c>.cache/jx</c> under the user's home folder.
    /// Read on every use, so a test or a host can point it elsewhere at run time.</summary>
    public static string Directory =>
        Environment.GetEnvironmentVariable("JX_CACHE_DIR") is { Length: > 0 } d ? d
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "jx");
}
