using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tailor.Tests.Studio.Web;

/// <summary>
/// Model versions through the HTTP API on the hands photos: two runs (k-NN, a 2-epoch network), compare's counts against
/// separate Evaluate calls of each version, the history with both runs' settings, the versions with theirs, and making a
/// version current refused (409, naming the run) while a run goes on.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ApiVersionsTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private static readonly string[] Labels = ["✊", "✋", "✌️"];

    /// <summary>A project with the hands photos uploaded (10 training, 5 test photos a label).</summary>
    internal static async Task<long> HandsProject(StudioServerFixture studio, string name)
    {
        long project = await studio.CreateProject(name);
        foreach (string label in Labels)
        {
            long id = await studio.AddLabel(project, label);
            foreach (string set in new[] { "train", "test" })
                await StudioServerFixture.Json(await studio.Upload(project, id, set,
                    StudioServerFixture.HandPhotos(set, label).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToArray()));
        }
        return project;
    }

    /// <summary>Starts a run and waits (polling its status) until it has ended; returns its final status.</summary>
    internal static async Task<JsonElement> Train(StudioServerFixture studio, long project, object request)
    {
        await studio.Post($"/api/projects/{project}/runs", request);
        while (true)
        {
            var status = await studio.Get($"/api/projects/{project}/run");
            if (!status.GetProperty("isActive").GetBoolean()) return status;
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task Compare_CountsAgreeWithEachVersionsEvaluate_HistoryAndVersionsCarryTheSettings_MakeCurrentIs409WhileARunGoesOn()
    {
        long project = await HandsProject(studio, "versions");
        var knnRun = await Train(studio, project, new { head = "knn" });
        var networkRun = await Train(studio, project, new { head = "neuralNetwork", epochs = 2, learningRate = 0.01, batchSize = 8, seed = 3 });
        Assert.Equal(("finished", "finished"), (knnRun.GetProperty("state").GetString(), networkRun.GetProperty("state").GetString()));
        long knn = knnRun.GetProperty("modelVersionId").GetInt64();
        long network = networkRun.GetProperty("modelVersionId").GetInt64();

        var compared = await studio.Post($"/api/projects/{project}/compare", new { a = knn, b = network });
        var a = (await studio.Post($"/api/projects/{project}/evaluate", new { versionId = knn })).GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("exampleId").GetInt64());
        var b = (await studio.Post($"/api/projects/{project}/evaluate", new { versionId = network })).GetProperty("rows").EnumerateArray()
            .ToDictionary(r => r.GetProperty("exampleId").GetInt64());
        bool Right(Dictionary<long, JsonElement> rows, long id) => rows[id].GetProperty("correct").GetBoolean();
        Assert.Equal(15, compared.GetProperty("count").GetInt32());
        Assert.Equal(a.Keys.Count(id => Right(a, id) && Right(b, id)), compared.GetProperty("bothRight").GetInt32());
        Assert.Equal(a.Keys.Count(id => Right(a, id) && !Right(b, id)), compared.GetProperty("onlyARight").GetInt32());
        Assert.Equal(a.Keys.Count(id => !Right(a, id) && Right(b, id)), compared.GetProperty("onlyBRight").GetInt32());
        Assert.Equal(a.Keys.Count(id => !Right(a, id) && !Right(b, id)), compared.GetProperty("bothWrong").GetInt32());
        Assert.Equal(a.Keys.Count(id => Right(a, id)) / 15.0, compared.GetProperty("accuracyA").GetDouble(), 9);
        Assert.Equal(knnRun.GetProperty("accuracy").GetDouble(), compared.GetProperty("accuracyA").GetDouble(), 9);
        Assert.Equal(networkRun.GetProperty("accuracy").GetDouble(), compared.GetProperty("accuracyB").GetDouble(), 6);
        foreach (var row in compared.GetProperty("rows").EnumerateArray())
        {
            long id = row.GetProperty("exampleId").GetInt64();
            string predictedA = row.GetProperty("a").GetProperty("label").GetString()!;
            string predictedB = row.GetProperty("b").GetProperty("label").GetString()!;
            Assert.Equal(a[id].GetProperty("predictedLabel").GetString(), predictedA);
            Assert.Equal(b[id].GetProperty("predictedLabel").GetString(), predictedB);
            Assert.Equal(predictedA != predictedB, row.GetProperty("disagree").GetBoolean());
        }

        var history = (await studio.Get($"/api/projects/{project}/history")).EnumerateArray().ToList();
        Assert.Equal(2, history.Count);
        Assert.Equal(("neuralNetwork", 2, 0.01, 8, 3, 2, network), (history[0].GetProperty("settings").GetProperty("head").GetString(),
            history[0].GetProperty("settings").GetProperty("epochs").GetInt32(), history[0].GetProperty("settings").GetProperty("learningRate").GetDouble(),
            history[0].GetProperty("settings").GetProperty("batchSize").GetInt32(), history[0].GetProperty("settings").GetProperty("seed").GetInt32(),
            history[0].GetProperty("epochsDone").GetInt32(), history[0].GetProperty("modelVersionId").GetInt64()));
        Assert.Equal(("knn", "completed", knn), (history[1].GetProperty("settings").GetProperty("head").GetString(), history[1].GetProperty("state").GetString(),
            history[1].GetProperty("modelVersionId").GetInt64()));
        Assert.Equal(compared.GetProperty("accuracyA").GetDouble(), history[1].GetProperty("testAccuracy").GetDouble(), 9);
        var versions = (await studio.Get($"/api/projects/{project}/versions")).EnumerateArray().ToList();
        Assert.Equal([network, knn], versions.Take(2).Select(v => v.GetProperty("id").GetInt64()));
        Assert.Equal("base", versions[^1].GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, versions[^1].GetProperty("settings").ValueKind);

        // Bad requests are said clearly.
        using (var missing = await studio.Http.PostAsJsonAsync($"/api/projects/{project}/compare", new { a = knn }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("Give the two versions to compare", await missing.Content.ReadAsStringAsync());
        }
        using (var unknown = await studio.Http.PostAsJsonAsync($"/api/projects/{project}/compare", new { a = knn, b = 987654 }))
            Assert.Contains("has no model version 987654", await unknown.Content.ReadAsStringAsync());

        // Making a version current while a run goes on: 409 naming the run; after it ends, it works.
        await studio.Post($"/api/projects/{project}/runs", new { head = "neuralNetwork", epochs = 50 });
        using (var refused = await studio.Http.PostAsJsonAsync($"/api/projects/{project}/models/reset", new { versionId = knn }))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains($"A run is going on project {project}", await refused.Content.ReadAsStringAsync());
        }
        await studio.Post($"/api/projects/{project}/run/stop", new { });
        while ((await studio.Get($"/api/projects/{project}/run")).GetProperty("isActive").GetBoolean()) await Task.Delay(200);
        var made = await studio.Post($"/api/projects/{project}/models/reset", new { versionId = knn });
        Assert.True(made.GetProperty("isCurrent").GetBoolean());
        Assert.Equal(knn, (await studio.Get($"/api/projects/{project}")).GetProperty("currentVersionId").GetInt64());
        Assert.Equal(3, (await studio.Get($"/api/projects/{project}/history")).GetArrayLength());
    }
}
