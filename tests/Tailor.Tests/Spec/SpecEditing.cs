using System.Text.Json.Nodes;
using Tailor.Building;
using Tailor.Onnx;
using Tailor.Spec;

namespace Tailor.Tests.Spec;

/// <summary>Reads and rewrites the update spec JSON stored in a model file, as someone editing a model by hand
/// (or a damaged file) would, without going through <see cref="UpdateSpec"/>.</summary>
internal static class SpecEditing
{
    /// <summary>A small prepared model (the test classifier of <see cref="Building.ExpandAndErrorTests"/> made updatable:
    /// input 'data' [N,3,8,8], classifier 'fc', labels a, b, c and two free slots), written to <paramref name="path"/>.</summary>
    public static string WriteTinyModel(string path)
    {
        string plain = path + ".plain.onnx";
        OnnxModelFile.Write(Building.ExpandAndErrorTests.TinyClassifier(), plain);
        ModelBuilder.Expand(plain, new ExpandOptions { Capacity = 5, Labels = ["a", "b", "c"] }).Save(path);
        File.Delete(plain);
        return path;
    }

    public static string ReadJson(string model) =>
        OnnxModelFile.Read(model).GetMetadata(UpdateSpec.MetadataKey) ?? throw new InvalidOperationException("no spec in " + model);

    /// <summary>Writes a copy of <paramref name="model"/> whose spec is exactly <paramref name="json"/>.</summary>
    public static void WriteWithJson(string model, string json, string output)
    {
        var proto = OnnxModelFile.Read(model);
        proto.SetMetadata(UpdateSpec.MetadataKey, json);
        OnnxModelFile.Write(proto, output);
    }

    /// <summary>
    /// Replaces the node at <paramref name="path"/> (dotted names and [index]es, "" for the whole spec) with the JSON
    /// <paramref name="raw"/>, or removes it when <paramref name="raw"/> is null.
    /// </summary>
    public static string Edit(string json, string path, string? raw)
    {
        if (path.Length == 0) return raw ?? "";
        var root = JsonNode.Parse(json)!;
        var steps = Steps(path);
        JsonNode parent = root;
        foreach (var step in steps[..^1])
            parent = step is int i ? parent[i]! : parent[(string)step]!;
        var value = raw is null ? null : JsonNode.Parse(raw);
        switch (steps[^1], parent)
        {
            case (int i, JsonArray a) when raw is null: a.RemoveAt(i); break;
            case (int i, JsonArray a): a[i] = value; break;
            case (string k, JsonObject o) when raw is null: o.Remove(k); break;
            case (string k, JsonObject o): o[k] = value; break;
            default: throw new ArgumentException($"cannot edit {path}");
        }
        return root.ToJsonString();
    }

    private static object[] Steps(string path)
    {
        var steps = new List<object>();
        foreach (var part in path.Split('.'))
        {
            int bracket = part.IndexOf('[');
            steps.Add(bracket < 0 ? part : part[..bracket]);
            if (bracket >= 0)
                foreach (var index in part[(bracket + 1)..^1].Split("]["))
                    steps.Add(int.Parse(index, System.Globalization.CultureInfo.InvariantCulture));
        }
        return [.. steps.Where(s => s is not "")];
    }
}
