using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace Tailor.Tests.Studio.Web;

/// <summary>
/// The whole loop through the HTTP API on the hands photos, as the pages drive it: create a project, add three labels,
/// upload the training and test photos, train k-NN and follow it on the event stream to the end, evaluate (15 rows),
/// download the current model and run it in plain ONNX Runtime; a second Start while a run goes on is 409.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ApiFlowTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private static readonly string[] Labels = ["✊", "✋", "✌️"];

    [Fact]
    public async Task Project_Labels_Uploads_Knn_Events_Evaluate_Download_RunsInPlainOnnxRuntime_AndASecondStartIs409()
    {
        long project = await studio.CreateProject("hands");
        foreach (string name in Labels)
        {
            long label = await studio.AddLabel(project, name);
            foreach (string set in new[] { "train", "test" })
            {
                var files = StudioServerFixture.HandPhotos(set, name).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToArray();
                var result = await StudioServerFixture.Json(await studio.Upload(project, label, set, files));
                Assert.Equal(files.Length, result.GetProperty("added").GetArrayLength());
                Assert.Empty(result.GetProperty("refused").EnumerateArray());
            }
        }
        var info = await studio.Get($"/api/projects/{project}");
        Assert.Equal([10, 10, 10], info.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("trainCount").GetInt32()));
        Assert.Equal([5, 5, 5], info.GetProperty("labels").EnumerateArray().Select(l => l.GetProperty("testCount").GetInt32()));

        // A network run, and a second Start while it goes on: 409, naming the run; then Stop ends it.
        await studio.Post($"/api/projects/{project}/runs", new { head = "neuralNetwork", epochs = 50 });
        using var second = await studio.Http.PostAsJsonAsync($"/api/projects/{project}/runs", new { head = "knn" });
        Assert.True(second.StatusCode == HttpStatusCode.Conflict, $"{second.StatusCode}: {await second.Content.ReadAsStringAsync()}");
        Assert.Contains($"A run is already going on project {project}", (await JsonDocument.ParseAsync(await second.Content.ReadAsStreamAsync())).RootElement.GetProperty("error").GetString());
        Assert.True((await studio.Post($"/api/projects/{project}/run/stop", new { })).GetProperty("stopping").GetBoolean());
        var stopped = (await EventsUntilTheEnd(project))[^1];
        Assert.Contains(stopped.Kind == "state" ? stopped.Data.GetProperty("status").GetProperty("state").GetString() : stopped.Data.GetProperty("state").GetString(),
            new[] { "stopped", "finished" });

        // k-NN, followed on the event stream until it ends.
        var started = await studio.Post($"/api/projects/{project}/runs", new { head = "knn" });
        Assert.Equal("knn", started.GetProperty("request").GetProperty("head").GetString());
        var events = await EventsUntilTheEnd(project);
        Assert.Equal("state", events[0].Kind);
        var finished = events[^1];
        Assert.Equal("finished", finished.Kind);
        Assert.Equal("finished", finished.Data.GetProperty("state").GetString());
        long version = finished.Data.GetProperty("modelVersionId").GetInt64();
        Assert.Equal(version, (await studio.Get($"/api/projects/{project}")).GetProperty("currentVersionId").GetInt64());

        // Evaluate: one row per test photo, wrong ones first.
        var evaluation = await studio.Post($"/api/projects/{project}/evaluate", new { });
        var rows = evaluation.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(15, rows.Count);
        var correct = rows.Select(r => r.GetProperty("correct").GetBoolean()).ToList();
        Assert.Equal(correct.OrderBy(c => c), correct);
        Assert.Equal(finished.Data.GetProperty("accuracy").GetDouble(), evaluation.GetProperty("accuracy").GetDouble(), 1e-9);

        // Download: a safe file name, and a model plain ONNX Runtime runs with the evaluation's predictions.
        using var download = await studio.Http.GetAsync($"/api/projects/{project}/models/current.onnx");
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal($"tailor-project-{project}-version-{version}.onnx", download.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        string model = Path.Combine(studio.Root, "downloaded.onnx");
        await File.WriteAllBytesAsync(model, await download.Content.ReadAsByteArrayAsync());
        var predicted = PlainOnnxRuntime(model);
        var examples = (await studio.Get($"/api/projects/{project}/examples?set=test&limit=100")).GetProperty("items").EnumerateArray()
            .ToDictionary(e => e.GetProperty("id").GetInt64(), e => e.GetProperty("sha256").GetString()!);
        foreach (var row in rows)
            Assert.Equal(row.GetProperty("predictedLabel").GetString(), predicted[examples[row.GetProperty("exampleId").GetInt64()]]);

    }

    /// <summary>Reads the project's event stream until the run has ended (a <c>finished</c> event, or a <c>state</c>
    /// event of an ended run).</summary>
    private async Task<List<(string Kind, JsonElement Data)>> EventsUntilTheEnd(long project)
    {
        var events = new List<(string, JsonElement)>();
        using var response = await studio.Http.GetAsync($"/api/projects/{project}/run/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string? kind = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) kind = line["event: ".Length..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonDocument.Parse(line["data: ".Length..]).RootElement.Clone();
                events.Add((kind!, data));
                bool ended = kind == "finished" || (kind == "state" && !data.GetProperty("status").GetProperty("isActive").GetBoolean());
                if (ended) return events;
            }
        }
        throw new EndOfStreamException("the event stream ended before the run: " + string.Join(", ", events.Select(e => e.Item1)));
    }

    /// <summary>The top label plain ONNX Runtime gives each hands test photo, by the photo's SHA-256. The input tensor is
    /// made as the model's update spec says (Tailor's loader); the inference is ONNX Runtime's alone.</summary>
    private static Dictionary<string, string> PlainOnnxRuntime(string modelPath)
    {
        var preprocessing = UpdatableModel.Load(modelPath).Spec.Preprocessing;
        var photos = Labels.SelectMany(l => StudioServerFixture.HandPhotos("test", l)).ToArray();
        int length = Tailor.Images.ImageLoader.TensorLength(preprocessing);
        var input = new float[photos.Length * length];
        for (int i = 0; i < photos.Length; i++) Tailor.Images.ImageLoader.LoadInto(photos[i], preprocessing, input.AsSpan(i * length, length));

        using var session = new InferenceSession(modelPath);
        string inputName = session.InputMetadata.Keys.Single();
        using var tensor = OrtValue.CreateTensorValueFromMemory(input, [photos.Length, 3, preprocessing.Height, preprocessing.Width]);
        using var outputs = session.Run(new RunOptions(), [inputName], [tensor], ["label"]);
        var labels = outputs[0].GetStringTensorAsArray();
        return photos.Select((p, i) => (Hash: Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p))), Label: labels[i]))
            .ToDictionary(x => x.Hash, x => x.Label);
    }
}
