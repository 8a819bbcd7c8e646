using System.Globalization;
using System.Text.Json.Nodes;
using Tailor.Tests.Images;
using Tailor.Tests.Spec;
using Xunit.Abstractions;

namespace Tailor.Tests.Fuzz;

/// <summary>
/// Mutated update specs, loaded by the library and shown by <c>tailor info</c> in-process: every mutant either loads or
/// is refused with a TailorException (exit code 1) — no other exception, no stack trace. Seeded: mutant i of seed S is
/// the same on every machine. 200 mutants by default (about 7 seconds);
/// <c>TAILOR_FUZZ_ITERATIONS</c> runs more, <c>TAILOR_FUZZ_SEED</c> another seed.
/// </summary>
[Collection("Serial")]
public sealed class SpecFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int DefaultSeed = 20261129;
    private const int DefaultIterations = 200;

    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int FromEnvironment(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : fallback;

    [Fact]
    public async Task MutatedSpecs_LoadOrAreRefusedWithTailorException()
    {
        int seed = FromEnvironment("TAILOR_FUZZ_SEED", DefaultSeed);
        int iterations = FromEnvironment("TAILOR_FUZZ_ITERATIONS", DefaultIterations);
        string model = SpecEditing.WriteTinyModel(_dir.File("tiny.onnx"));
        string json = SpecEditing.ReadJson(model);
        string mutantPath = _dir.File("mutant.onnx");
        var failures = new List<string>();
        int refused = 0;
        for (int i = 0; i < iterations; i++)
        {
            var (mutant, what) = SpecMutator.Mutate(json, new Random(unchecked(seed * 7919 + i)));
            SpecEditing.WriteWithJson(model, mutant, mutantPath);
            string name = $"seed {seed} mutant {i} ({what})";
            try
            {
                UpdatableModel.Load(mutantPath);
            }
            catch (TailorException)
            {
                refused++;
            }
            catch (Exception e)
            {
                failures.Add($"{name}: load threw {e.GetType().Name}: {e.Message}");
                continue;
            }
            try
            {
                var r = await SpecCli.RunAsync(i % 2 == 0 ? ["info", mutantPath] : ["info", mutantPath, "--json"]);
                if (r.ExitCode is not (0 or 1) || r.Stderr.Contains("   at ", StringComparison.Ordinal))
                    failures.Add($"{name}: info exited {r.ExitCode}: {r.Stderr}");
            }
            catch (Exception e)
            {
                failures.Add($"{name}: info threw {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{iterations} mutants (seed {seed}): {refused} refused, {iterations - refused - failures.Count} loaded, {failures.Count} crashed.");
        Assert.True(failures.Count == 0, $"{failures.Count} of {iterations} mutants crashed:\n" + string.Join("\n", failures.Take(20)));
    }
}

/// <summary>Replaces one node of a spec's JSON tree (or two) by null, a value of another type, an extreme number, an
/// empty or huge string; drops a key or an element; or gives a label another label's name.</summary>
internal static class SpecMutator
{
    private static readonly string[] Replacements =
    [
        "null", "true", "\"x\"", "[]", "{}", "[null]", "{\"x\": null}", "1e308", "-1e308", "-1", "0", "0.5", "3e9", "-3e9",
        "2147483648", "1", "\"\"", "\"nn\"", "[1, 0]", "{\"range\": [1, 0]}",
    ];

    public static (string Json, string What) Mutate(string json, Random rng)
    {
        var root = JsonNode.Parse(json)!;
        var what = new List<string>();
        int edits = rng.Next(4) == 0 ? 2 : 1;
        for (int e = 0; e < edits; e++)
        {
            var nodes = new List<(JsonNode Parent, object Key, string Path)>();
            Collect(root, "", nodes);
            var (parent, key, path) = nodes[rng.Next(nodes.Count)];
            int kind = rng.Next(10);
            string text;
            if (kind == 0)
            {
                Remove(parent, key);
                what.Add($"drop {path}");
                continue;
            }
            if (kind == 1 && root["labels"]?["names"] is JsonArray { Count: >= 2 } names && names.All(n => n is JsonValue))
            {
                int a = rng.Next(names.Count), b = rng.Next(names.Count);
                names[a] = JsonValue.Create(names[b]!.GetValue<object>().ToString());
                what.Add($"labels.names[{a}] = labels.names[{b}]");
                continue;
            }
            text = kind == 2 ? "\"" + new string('x', 100_000) + "\"" : Replacements[rng.Next(Replacements.Length)];
            Set(parent, key, JsonNode.Parse(text));
            what.Add($"{path} = {(text.Length > 40 ? "a 100000-character string" : text)}");
        }
        return (root.ToJsonString(), string.Join("; ", what));
    }

    private static void Collect(JsonNode node, string path, List<(JsonNode, object, string)> into)
    {
        if (node is JsonObject o)
            foreach (var (k, v) in o.ToList())
            {
                string p = path.Length == 0 ? k : path + "." + k;
                into.Add((o, k, p));
                if (v is not null) Collect(v, p, into);
            }
        else if (node is JsonArray a)
            for (int i = 0; i < a.Count; i++)
            {
                string p = $"{path}[{i}]";
                into.Add((a, i, p));
                if (a[i] is { } v) Collect(v, p, into);
            }
    }

    private static void Set(JsonNode parent, object key, JsonNode? value)
    {
        if (key is int i) parent.AsArray()[i] = value;
        else parent.AsObject()[(string)key] = value;
    }

    private static void Remove(JsonNode parent, object key)
    {
        if (key is int i) parent.AsArray().RemoveAt(i);
        else parent.AsObject().Remove((string)key);
    }
}
