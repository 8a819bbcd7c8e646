using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Tailor.Bench;

/// <summary>
/// <c>bench studio --run-memory</c>: the peak memory of one training run in the studio against the CLI doing the same
/// work, measured in the same benchmark run. The studio is a real <c>tailor studio</c> process (the CLI's assembly, its
/// runtime settings) that imported the photos; its peak resident set (VmHWM) is reset to its resident set just before the
/// run is started through the HTTP API (<c>/proc/PID/clear_refs</c>, 5), so the figure is the whole studio process's peak
/// during the run. The baseline: <c>tailor train MODEL --data train --validation test</c> (the head and epochs of the run)
/// then <c>tailor evaluate MODEL --data test</c>, each a fresh process, on a model <c>tailor prepare</c> made with the same
/// labels; the ratio is the studio run's peak over the larger of the two.
/// </summary>
internal static class StudioRunMemory
{
    internal sealed record Peaks(string Data, string Head, double StudioBefore, double StudioPeak, double StudioAfter, double StudioSeconds,
        double TrainPeak, double EvaluatePeak, double? StudioAccuracy)
    {
        public double Ratio => StudioPeak / Math.Max(TrainPeak, EvaluatePeak);
    }

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    /// <summary>Each data set (a folder with train/ and test/) with each head; prints a line per pair and a summary.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<(string Name, string Folder)> sets, IReadOnlyList<string> heads, int epochs, string root)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "Tailor.Cli.dll");
        Console.WriteLine($"  run memory: the studio's run (whole `tailor studio` process, VmHWM reset at the run's start) against `tailor train --validation` " +
                          $"then `tailor evaluate`, each a fresh process; nn runs {epochs} epoch{(epochs == 1 ? "" : "s")} (the default layers and augmentation)");
        var results = new List<Peaks>();
        foreach (var (name, folder) in sets)
            foreach (string head in heads)
            {
                var p = await Measure(cli, name, folder, head, epochs, root);
                results.Add(p);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    {name,-18} {head,-6} studio run peak {p.StudioPeak,4:0} MB (resident {p.StudioBefore:0} MB before, {p.StudioAfter:0} MB after; {p.StudioSeconds:0.0} s; " +
                    $"accuracy {p.StudioAccuracy:0.000}) · tailor train {p.TrainPeak,4:0} MB, tailor evaluate {p.EvaluatePeak,4:0} MB · ratio {p.Ratio:0.00}× (load average {LoadAverage()})"));
            }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run memory: worst ratio {results.Max(r => r.Ratio):0.00}× (target ≤ 1.00×: a studio run peaks no higher than the CLI's largest step)"));
        return 0;
    }

    private static async Task<Peaks> Measure(string cli, string name, string folder, string head, int epochs, string root)
    {
        string work = Path.Combine(root, $"run-memory-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        string train = Path.Combine(folder, "train"), test = Path.Combine(folder, "test");
        string[] labels = [.. Directory.GetDirectories(train).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        string model = Path.Combine(work, "model.onnx");
        Child(cli, "prepare", "--labels", string.Join(",", labels), "--out", model);
        var trainArgs = new List<string> { "train", model, "--data", train, "--validation", test, "--head", head };
        if (head == "nn") trainArgs.AddRange(["--epochs", epochs.ToString(CultureInfo.InvariantCulture)]);
        double trainPeak = Child(cli, [.. trainArgs]);
        double evaluatePeak = Child(cli, "evaluate", model, "--data", test);

        var (before, peak, after, seconds, accuracy) = await Studio(cli, Path.Combine(work, "ws"), folder, head, epochs);
        return new Peaks(name, head, before, peak, after, seconds, trainPeak, evaluatePeak, accuracy);
    }

    /// <summary>A <c>tailor studio</c> process that imports <paramref name="folder"/>, then one run through its HTTP API.</summary>
    private static async Task<(double Before, double Peak, double After, double Seconds, double? Accuracy)> Studio(string cli, string workspace, string folder, string head, int epochs)
    {
        var psi = StartInfo(cli, "studio", "--workspace", workspace, "--import", folder, "--port", "0");
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start tailor studio.");
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            Uri? url = null;
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync()) is not null)
            {
                if (line.StartsWith("Tailor Studio: ", StringComparison.Ordinal)) url = new Uri(line["Tailor Studio: ".Length..].Trim());
                if (line.StartsWith("Press Ctrl+C", StringComparison.Ordinal)) break;
            }
            if (url is null) throw new InvalidOperationException($"tailor studio did not start:\n{await errors}");
            _ = process.StandardOutput.ReadToEndAsync();
            using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromHours(1) };
            http.DefaultRequestHeaders.Add("Origin", url.GetLeftPart(UriPartial.Authority));
            using var projects = JsonDocument.Parse(await http.GetStringAsync("/api/projects"));
            long project = projects.RootElement.EnumerateArray().First().GetProperty("id").GetInt64();
            string status = $"/proc/{process.Id}/status";
            // Settle the import's garbage as the studio would between a user's actions, then start the peak from here.
            await Task.Delay(2000);
            File.WriteAllText($"/proc/{process.Id}/clear_refs", "5");
            double before = Read(status, "VmRSS:");
            var clock = Stopwatch.StartNew();
            object request = head == "nn" ? new { head = "neuralNetwork", epochs } : new { head = head == "logreg" ? "logisticRegression" : "knn" };
            using (var started = await http.PostAsJsonAsync($"/api/projects/{project}/runs", request, s_json))
                if (!started.IsSuccessStatusCode) throw new InvalidOperationException($"Starting the run: {(int)started.StatusCode} {await started.Content.ReadAsStringAsync()}");
            double? accuracy;
            while (true)
            {
                await Task.Delay(100);
                using var run = JsonDocument.Parse(await http.GetStringAsync($"/api/projects/{project}/run"));
                string state = run.RootElement.GetProperty("state").GetString()!;
                if (state is "preparing" or "training") continue;
                if (state != "finished") throw new InvalidOperationException($"The studio's run ended {state}: {run.RootElement.GetProperty("message")}");
                accuracy = run.RootElement.TryGetProperty("accuracy", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null;
                break;
            }
            double seconds = clock.Elapsed.TotalSeconds;
            double peak = Read(status, "VmHWM:");
            await Task.Delay(2000);
            return (before, peak, Read(status, "VmRSS:"), seconds, accuracy);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Runs <c>dotnet CLI ARGS</c> to its end and returns its peak resident memory (polled every 10 ms).</summary>
    private static double Child(string cli, params string[] args)
    {
        using var process = Process.Start(StartInfo(cli, args)) ?? throw new InvalidOperationException($"Could not start {cli}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        double peak = 0;
        string status = $"/proc/{process.Id}/status";
        while (!process.HasExited)
        {
            peak = Math.Max(peak, Read(status, "VmHWM:"));
            Thread.Sleep(10);
        }
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"tailor {string.Join(" ", args)} failed (exit {process.ExitCode}):\n{output.Result}\n{errors.Result}");
        return peak;
    }

    private static ProcessStartInfo StartInfo(string cli, params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(cli);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        return psi;
    }

    /// <summary>A figure of /proc/PID/status in MB, or 0 when the process is gone.</summary>
    private static double Read(string status, string key)
    {
        try
        {
            foreach (string line in File.ReadLines(status))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return double.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { }
        return 0;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
