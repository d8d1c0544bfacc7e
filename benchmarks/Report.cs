using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Jx.Benchmarks;

/// <summary>One line of the results table: a Jx workload timed against one reference.</summary>
/// <param name="Id">Workload id from shared/BENCHMARKS.md ("W1").</param>
/// <param name="Workload">What Jx ran.</param>
/// <param name="Jx">Jx's timings (null when the correctness check failed and it was not timed).</param>
/// <param name="Unit">"ms" per run, or "µs/op" for W7.</param>
/// <param name="Reference">What it is compared with.</param>
/// <param name="Ref">The reference's timings, in the same unit (null when unavailable).</param>
/// <param name="RefUnavailable">Why the reference has no number.</param>
/// <param name="Check">Correctness of Jx's answer, checked before timing.</param>
/// <param name="Flop">Floating-point operations per run, for GFLOP/s (W3).</param>
internal sealed record Row(string Id, string Workload, Stats? Jx, string Unit, string Reference, Stats? Ref,
    string? RefUnavailable, Check.Result? Check, double? Flop = null)
{
    public double? Ratio => Jx is not null && Ref is not null ? Jx.MedianMs / Ref.MedianMs : null;
}

/// <summary>A performance target from the issue, evaluated on the measured numbers.</summary>
internal sealed record Target(string Name, string Rule, double? Value, bool? Pass, string Measured);

/// <summary>Prints the results with Spectre.Console and writes them as JSON.</summary>
internal static class Report
{
    public static string Fmt(double v, string unit, double? flop = null)
    {
        string s = unit == "µs/op" ? $"{v:0.00} µs/op" : v >= 100 ? $"{v:0.0} ms" : $"{v:0.00} ms";
        if (flop is double f && unit == "ms") s += $" · {f / (v * 1e-3) / 1e9:0} GFLOP/s";
        return s;
    }

    private static string Spread(Stats s, string unit) =>
        unit == "µs/op" ? $"{s.MinMs:0.00}–{s.MaxMs:0.00} µs/op" : $"{s.MinMs:0.0}–{s.MaxMs:0.0} ms";

    public static void PrintTable(IReadOnlyList<Row> rows, string title)
    {
        var t = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(title)}[/]");
        t.AddColumn("workload");
        t.AddColumn(new TableColumn("Jx median").RightAligned());
        t.AddColumn("reference");
        t.AddColumn(new TableColumn("reference median").RightAligned());
        t.AddColumn(new TableColumn("ratio (Jx/ref)").RightAligned());
        t.AddColumn(new TableColumn("Jx min–max").RightAligned());
        foreach (var r in rows)
        {
            string jx = r.Jx is null ? $"[red]{Markup.Escape(r.Check?.ToString() ?? "not run")}[/]" : Markup.Escape(Fmt(r.Jx.MedianMs, r.Unit, r.Flop));
            string rf = r.Ref is null ? $"[yellow]{Markup.Escape(r.RefUnavailable ?? "unavailable")}[/]" : Markup.Escape(Fmt(r.Ref.MedianMs, r.Unit, r.Flop));
            string ratio = r.Ratio is double q ? (q <= 1 ? $"[green]{q:0.00}×[/]" : $"{q:0.00}×") : "—";
            string spread = r.Jx is null ? "—" : Markup.Escape(Spread(r.Jx, r.Unit));
            t.AddRow(Markup.Escape(r.Workload), jx, Markup.Escape(r.Reference), rf, ratio, spread);
        }
        AnsiConsole.Write(t);
    }

    public static void PrintTargets(IReadOnlyList<Target> targets)
    {
        var t = new Table().Border(TableBorder.Rounded).Title("[bold]Targets (issue)[/]");
        t.AddColumn("target");
        t.AddColumn("rule");
        t.AddColumn("measured");
        t.AddColumn("result");
        foreach (var g in targets)
            t.AddRow(Markup.Escape(g.Name), Markup.Escape(g.Rule), Markup.Escape(g.Measured),
                g.Pass switch { true => "[green]pass[/]", false => "[red]FAIL[/]", null => "[yellow]n/a[/]" });
        AnsiConsole.Write(t);
    }

    public static void PrintBreakdown(string title, IReadOnlyList<Breakdown.Stage> stages)
    {
        var t = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(title)}[/]");
        t.AddColumn("stage");
        bool cpu = stages.Any(s => s.ThreadCpu is not null);
        t.AddColumn(new TableColumn("median (wall)").RightAligned());
        if (cpu) t.AddColumn(new TableColumn("thread CPU").RightAligned());
        t.AddColumn(new TableColumn("allocated/call").RightAligned());
        t.AddColumn("note");
        foreach (var s in stages)
        {
            var cells = new List<string> { Markup.Escape(s.Name), s.Unit == "ms" ? $"{s.Value:0.00} ms" : $"{s.Value:0} ns" };
            if (cpu) cells.Add(s.ThreadCpu is double c ? $"{c:0} ns" : "");
            cells.Add(s.BytesPerCall is double b ? $"{b:0} B" : "");
            cells.Add(Markup.Escape(s.Note));
            t.AddRow([.. cells]);
        }
        AnsiConsole.Write(t);
    }

    public static JsonObject StatsJson(Stats s) => new()
    {
        ["median"] = Round(s.MedianMs), ["min"] = Round(s.MinMs), ["max"] = Round(s.MaxMs), ["reps"] = s.Reps,
    };

    private static double Round(double v) => Math.Round(v, 4);

    public static JsonObject ToJson(JsonObject meta, IReadOnlyList<Row> rows, IReadOnlyList<Target> targets,
        IReadOnlyDictionary<string, Stats> references, TorchPeer? torch,
        IReadOnlyList<Breakdown.Stage> w7, IReadOnlyList<Breakdown.Stage> w1, IReadOnlyList<Breakdown.Stage> w3)
    {
        var root = new JsonObject { ["meta"] = meta };
        var jr = new JsonArray();
        foreach (var r in rows)
        {
            var o = new JsonObject
            {
                ["id"] = r.Id, ["workload"] = r.Workload, ["unit"] = r.Unit,
                ["jx"] = r.Jx is null ? null : StatsJson(r.Jx),
                ["reference"] = r.Reference,
                ["reference_stats"] = r.Ref is null ? null : StatsJson(r.Ref),
                ["reference_unavailable"] = r.RefUnavailable,
                ["ratio_jx_over_ref"] = r.Ratio is double q ? Round(q) : null,
                ["check"] = r.Check?.ToString(),
            };
            if (r.Flop is double f)
            {
                o["jx_gflops"] = r.Jx is null ? null : Round(f / (r.Jx.MedianMs * 1e-3) / 1e9);
                o["reference_gflops"] = r.Ref is null ? null : Round(f / (r.Ref.MedianMs * 1e-3) / 1e9);
            }
            jr.Add(o);
        }
        root["rows"] = jr;
        var jt = new JsonArray();
        foreach (var g in targets)
            jt.Add(new JsonObject { ["target"] = g.Name, ["rule"] = g.Rule, ["measured"] = g.Measured, ["value"] = g.Value is double v ? Round(v) : null, ["pass"] = g.Pass });
        root["targets"] = jt;
        var refs = new JsonObject();
        foreach (var (k, s) in references) refs[k] = StatsJson(s);
        root["in_process_references_ms"] = refs;
        root["torch"] = torch?.Json is null ? new JsonObject { ["error"] = torch?.Error ?? "not run" } : JsonNode.Parse(torch.Json.ToJsonString());
        root["breakdown_w7"] = StagesJson(w7);
        root["breakdown_w1"] = StagesJson(w1);
        root["breakdown_w3"] = StagesJson(w3);
        return root;
    }

    private static JsonArray StagesJson(IReadOnlyList<Breakdown.Stage> stages)
    {
        var a = new JsonArray();
        foreach (var s in stages)
            a.Add(new JsonObject { ["stage"] = s.Name.Trim(), ["value"] = Round(s.Value), ["unit"] = s.Unit, ["bytes_per_call"] = s.BytesPerCall, ["thread_cpu_ns"] = s.ThreadCpu is double c ? Round(c) : null, ["note"] = s.Note });
        return a;
    }

    public static void Write(JsonObject root, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }
}
