using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Jx.Benchmarks;

/// <summary>The PyTorch CPU peer: runs shared/peers/torch_cpu.py as a subprocess (after the Jx side has finished, so
/// the two never compete for the cores) and reads its JSON of median milliseconds. When Python, the torch package or
/// the script is missing, <see cref="Error"/> says so and the table shows it instead of numbers.</summary>
internal sealed class TorchPeer
{
    public JsonObject? Json { get; private init; }
    public string? Error { get; private init; }
    public string? Script { get; private init; }
    public string? Version => Json?["meta"]?["torch"]?.GetValue<string>();
    public double ElapsedS { get; private init; }

    /// <summary>Median ms of a workload ("W1"...), or null when the peer did not report it.</summary>
    public double? Median(string id) => Json?[id] is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    /// <summary>[min, max] ms of a workload when the peer reported its spread.</summary>
    public (double Min, double Max)? Spread(string id)
    {
        if (Json?["meta"]?["spread_ms"]?[id] is JsonArray a && a.Count == 2)
            return (a[0]!.GetValue<double>(), a[1]!.GetValue<double>());
        return null;
    }

    /// <summary>Where the peer script is looked for: $JX_TORCH_PEER, then shared/peers/torch_cpu.py beside the
    /// repository (the usual layout), inside it, and beside each parent of the working directory.</summary>
    public static List<string> Candidates(string? explicitPath, string? repoRoot)
    {
        var list = new List<string>();
        if (!string.IsNullOrEmpty(explicitPath)) list.Add(explicitPath);
        var env = Environment.GetEnvironmentVariable("JX_TORCH_PEER");
        if (!string.IsNullOrEmpty(env)) list.Add(env);
        if (repoRoot is not null)
        {
            list.Add(Path.Combine(repoRoot, "..", "shared", "peers", "torch_cpu.py"));
            list.Add(Path.Combine(repoRoot, "shared", "peers", "torch_cpu.py"));
        }
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
            list.Add(Path.Combine(d.FullName, "shared", "peers", "torch_cpu.py"));
        return list.Select(Path.GetFullPath).Distinct().ToList();
    }

    public static TorchPeer Run(string? explicitPath, string? repoRoot, int threads, bool quick)
    {
        var candidates = Candidates(explicitPath, repoRoot);
        if (!string.IsNullOrEmpty(explicitPath)) candidates = [Path.GetFullPath(explicitPath)];
        var script = candidates.FirstOrDefault(File.Exists);
        if (script is null)
            return new TorchPeer { Error = $"peer script not found: {string.Join(", ", candidates.Take(2))}" };

        string? python = new[] { "/usr/bin/python3" }.FirstOrDefault(File.Exists) ?? FindOnPath("python3");
        if (python is null)
            return new TorchPeer { Script = script, Error = "python3 not installed (apt-get install -y python3 python3-torch)" };

        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("--threads");
        psi.ArgumentList.Add(threads.ToString());
        if (quick) psi.ArgumentList.Add("--quick");
        foreach (var v in new[] { "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS" })
            psi.Environment[v] = threads.ToString();

        var sw = Stopwatch.StartNew();
        try
        {
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var stderrTask = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(quick ? 240 : 900)))
            {
                p.Kill(entireProcessTree: true);
                return new TorchPeer { Script = script, Error = $"peer timed out after {sw.Elapsed.TotalSeconds:0} s", ElapsedS = sw.Elapsed.TotalSeconds };
            }
            string stdout = stdoutTask.Result, stderr = stderrTask.Result;
            double elapsed = sw.Elapsed.TotalSeconds;
            if (p.ExitCode != 0)
            {
                string why = stderr.Contains("No module named 'torch'") || stderr.Contains("No module named torch")
                    ? "python3-torch not installed (apt-get install -y python3-torch)"
                    : $"peer exited with code {p.ExitCode}: {LastLine(stderr)}";
                return new TorchPeer { Script = script, Error = why, ElapsedS = elapsed };
            }
            var line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .LastOrDefault(l => l.StartsWith('{'));
            if (line is null || JsonNode.Parse(line) is not JsonObject json)
                return new TorchPeer { Script = script, Error = $"peer printed no JSON: {LastLine(stdout + stderr)}", ElapsedS = elapsed };
            return new TorchPeer { Script = script, Json = json, ElapsedS = elapsed };
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or System.Text.Json.JsonException)
        {
            return new TorchPeer { Script = script, Error = $"could not run the peer: {e.Message}" };
        }
    }

    private static string LastLine(string s) =>
        s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";

    private static string? FindOnPath(string exe) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, exe)).FirstOrDefault(File.Exists);
}
