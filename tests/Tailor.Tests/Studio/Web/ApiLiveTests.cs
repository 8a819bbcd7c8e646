using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Tailor.Prediction;
using Tailor.Studio.Runs;

namespace Tailor.Tests.Studio.Web;

/// <summary>
/// POST /api/projects/{p}/predict on the hands photos: the answer is the library's <see cref="Predictor"/> on the same
/// model and image; it follows the current version (a run, a reset to an earlier version); many requests at once are all
/// answered; bad bodies are refused with their status and a clear message; a model trained on no label says so.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ApiLiveTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private static readonly string[] Labels = ["✊", "✋", "✌️"];

    [Fact]
    public async Task Predict_IsTheLibrarysPredictor_FollowsTheCurrentVersion_AndAnswersManyAtOnce()
    {
        long project = await studio.CreateProject("live");
        foreach (string name in Labels)
        {
            long label = await studio.AddLabel(project, name);
            var files = StudioServerFixture.HandPhotos("train", name).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToArray();
            await StudioServerFixture.Json(await studio.Upload(project, label, "train", files));
        }
        var photos = Labels.SelectMany(l => StudioServerFixture.HandPhotos("test", l).Take(2)).ToArray();

        // Not trained yet: said, not predicted.
        var untrained = await PostImage(project, File.ReadAllBytes(photos[0]));
        Assert.Equal(HttpStatusCode.Conflict, untrained.Status);
        Assert.Contains("has no trained label yet", untrained.Error);
        Assert.Contains("train it", untrained.Error);
        var readiness = await studio.Get($"/api/projects/{project}/predict");
        Assert.False(readiness.GetProperty("ready").GetBoolean());
        Assert.Equal(untrained.Error, readiness.GetProperty("message").GetString());

        long knn = await Train(project, new RunRequest { Head = RunHead.Knn });
        readiness = await studio.Get($"/api/projects/{project}/predict");
        Assert.True(readiness.GetProperty("ready").GetBoolean());
        Assert.Equal(knn, readiness.GetProperty("versionId").GetInt64());
        Assert.Equal(Labels, readiness.GetProperty("trainedLabels").EnumerateArray().Select(e => e.GetString()));
        var knnAnswers = await AssertMatchesLibrary(project, knn, photos);

        // Many at once (more than the cores, more than the predictors' gate): every one answered, each as alone.
        var parallel = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => PostImage(project, File.ReadAllBytes(photos[i % photos.Length]))));
        for (int i = 0; i < parallel.Length; i++)
        {
            Assert.True(parallel[i].Status == HttpStatusCode.OK, $"request {i}: {parallel[i].Status} {parallel[i].Error}");
            Assert.Equal(knnAnswers[i % photos.Length], Probabilities(parallel[i].Body));
        }

        // The same image as a multipart file: the same answer.
        using (var form = new MultipartFormDataContent())
        {
            var part = new ByteArrayContent(File.ReadAllBytes(photos[1]));
            part.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            form.Add(part, "image", "hand.jpg");
            var body = await StudioServerFixture.Json(await studio.Http.PostAsync($"/api/projects/{project}/predict", form));
            Assert.Equal(knn, body.GetProperty("versionId").GetInt64());
            Assert.Equal(knnAnswers[1], Probabilities(body));
        }

        // A damaged image (the first third of a JPEG): 400 naming what is wrong.
        byte[] photo = File.ReadAllBytes(photos[0]);
        var damaged = await PostImage(project, photo[..(photo.Length / 3)]);
        Assert.Equal(HttpStatusCode.BadRequest, damaged.Status);
        Assert.StartsWith("The image is not an image Tailor can read", damaged.Error);
        Assert.Contains("damaged or truncated", damaged.Error);

        // A new run makes a new current version: the next answer comes from it.
        long logreg = await Train(project, new RunRequest { Head = RunHead.LogisticRegression });
        Assert.NotEqual(knn, logreg);
        var logregAnswers = await AssertMatchesLibrary(project, logreg, photos);
        Assert.NotEqual(knnAnswers, logregAnswers);

        // Predictions while the current version changes under them: each is answered, by one version or the other,
        // with that version's answer (a predictor let go while in use is disposed only when its last call is done).
        var during = Enumerable.Range(0, 16).Select(i => PostImage(project, File.ReadAllBytes(photos[i % photos.Length]))).ToList();
        for (int i = 0; i < 4; i++)
            await studio.Post($"/api/projects/{project}/models/reset", new { versionId = i % 2 == 0 ? knn : logreg });
        var answered = await Task.WhenAll(during);
        for (int i = 0; i < answered.Length; i++)
        {
            Assert.True(answered[i].Status == HttpStatusCode.OK, $"request {i}: {answered[i].Status} {answered[i].Error}");
            long by = answered[i].Body.GetProperty("versionId").GetInt64();
            Assert.Equal((by == knn ? knnAnswers : by == logreg ? logregAnswers : throw new Xunit.Sdk.XunitException($"version {by}"))[i % photos.Length],
                Probabilities(answered[i].Body));
        }

        // Reset to the k-NN version: its answers again.
        await studio.Post($"/api/projects/{project}/models/reset", new { versionId = knn });
        Assert.Equal(knnAnswers, await AssertMatchesLibrary(project, knn, photos));

        // Reset to empty: a model trained on no label, said again.
        await studio.Post($"/api/projects/{project}/models/reset", new { to = "empty" });
        var reset = await PostImage(project, photo);
        Assert.Equal(HttpStatusCode.Conflict, reset.Status);
        Assert.Contains("has no trained label yet", reset.Error);

        // Nothing was stored: the project holds its 30 training photos and no other.
        Assert.Equal(30, (await studio.Get($"/api/projects/{project}/examples?limit=1000")).GetProperty("total").GetInt32());
        Assert.InRange(studio.Workspace.LivePredictorCount, 0, Tailor.Studio.Workspace.MaxLivePredictors);
    }

    [Fact]
    public async Task BadBodies_AreRefused_WithTheirStatusAndAClearMessage()
    {
        long project = await studio.CreateProject("bad bodies");
        string url = $"/api/projects/{project}/predict";

        var empty = await PostImage(project, []);
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);
        Assert.Contains("is empty: send one image", empty.Error);

        var text = await PostImage(project, "hello, not an image"u8.ToArray());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.Status);
        Assert.Contains("is not an image Tailor reads (JPEG, PNG, BMP, GIF, WebP)", text.Error);

        using (var json = await studio.Http.PostAsJsonAsync(url, new { image = "x" }))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
            Assert.Contains("Content-Type application/json is not an image", await Error(json));
        }

        // More than the per-image cap: 413, as the raw body (refused before it is read) and as a multipart file.
        byte[] large = new byte[Tailor.Studio.Workspace.MaxUploadBytes + 1];
        File.ReadAllBytes(StudioServerFixture.HandPhotos("test", Labels[0])[0]).CopyTo(large, 0);
        var raw = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(large) };
        raw.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        raw.Headers.TransferEncodingChunked = true;   // no Content-Length: counted while it is read
        using (var response = await studio.Http.SendAsync(raw))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("26,214,400 bytes", await Error(response));
        }
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(large), "image", "huge.jpg");
            using var response = await studio.Http.PostAsync(url, form);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("'huge.jpg' is larger than 25 MiB", await Error(response));
        }

        // A header declaring too many pixels: refused before decoding.
        var bomb = await PostImage(project, StudioServerFixture.PngHeader(20_000, 20_000));
        Assert.Equal(HttpStatusCode.BadRequest, bomb.Status);
        Assert.Contains("declares 20000×20000 pixels", bomb.Error);

        using (var form = new MultipartFormDataContent())
        {
            form.Add(new StringContent("just a field"), "name");
            using var response = await studio.Http.PostAsync(url, form);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("The form holds no file", await Error(response));
        }

        var missing = await studio.Http.PostAsync("/api/projects/987654/predict", new ByteArrayContent([0xFF, 0xD8, 0xFF]));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private sealed record Answer(HttpStatusCode Status, JsonElement Body, string? Error);

    private async Task<Answer> PostImage(long project, byte[] image)
    {
        var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var response = await studio.Http.PostAsync($"/api/projects/{project}/predict", content);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        return new Answer(response.StatusCode, body, body.TryGetProperty("error", out var e) ? e.GetString() : null);
    }

    private static async Task<string> Error(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;

    /// <summary>The answer's labels and probabilities, most probable first.</summary>
    private static List<(string, double)> Probabilities(JsonElement body) =>
        body.GetProperty("top").EnumerateArray().Select(t => (t.GetProperty("label").GetString()!, t.GetProperty("probability").GetDouble())).ToList();

    /// <summary>Posts each photo and checks the answer is the version's: the library's Predictor on the same model and
    /// file gives the same labels with the same probabilities. Returns the answers.</summary>
    private async Task<List<List<(string, double)>>> AssertMatchesLibrary(long project, long version, string[] photos)
    {
        using var predictor = new Predictor(studio.Workspace.LoadModel(project, version));
        var labels = predictor.Model.Spec.Labels;
        var answers = new List<List<(string, double)>>();
        foreach (var photo in photos)
        {
            var answer = await PostImage(project, File.ReadAllBytes(photo));
            Assert.True(answer.Status == HttpStatusCode.OK, $"{answer.Status} {answer.Error}");
            Assert.Equal(version, answer.Body.GetProperty("versionId").GetInt64());
            Assert.True(answer.Body.GetProperty("ms").GetDouble() > 0);
            var expected = predictor.Predict(photo).Top(labels.Capacity, labels).Select(t => (t.Label, (double)t.Probability)).ToList();
            var got = Probabilities(answer.Body);
            Assert.Equal(Labels.Length, got.Count);
            Assert.Equal(expected, got);
            answers.Add(got);
        }
        return answers;
    }

    /// <summary>Starts a run and waits for its end on the run manager's events; returns the model version it committed.</summary>
    private async Task<long> Train(long project, RunRequest request)
    {
        studio.Runs.Start(project, request);
        await foreach (var e in studio.Runs.Subscribe(project, new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token))
            if (e.Kind == RunEvent.FinishedKind || (e.Kind == RunEvent.StateKind && e.Status is { IsActive: false }))
            {
                var status = studio.Runs.Status(project)!;
                Assert.True(status.State == RunState.Finished, $"the run ended {status.State}: {status.Message}");
                return (await studio.Get($"/api/projects/{project}")).GetProperty("currentVersionId").GetInt64();
            }
        throw new InvalidOperationException("the run's events ended before the run");
    }
}
