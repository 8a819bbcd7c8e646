using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Tailor.Onnx;
using Tailor.Tests.Building;

namespace Tailor.Tests.Studio.Web;

/// <summary>POST /api/projects as multipart: a new project on the user's own ONNX model, with the options a base model
/// needs (as <c>tailor prepare --base</c> takes them); bad uploads are refused with the library's message.</summary>
public sealed class ApiProjectUploadTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private Task<HttpResponseMessage> Create(byte[] model, string fileName, params (string Name, string Value)[] fields)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in fields) form.Add(new StringContent(value), name);
        var part = new ByteArrayContent(model);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"model\"", FileName = "\"" + fileName + "\"" };
        form.Add(part);
        return studio.Http.PostAsync("/api/projects", form);
    }

    private static byte[] Tiny()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tailor-tiny-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxModelFile.Write(ExpandAndErrorTests.TinyClassifier(), path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task UploadedOnnx_WithItsOptions_MakesAProject_OnThatModel_NamedByItsFileNameOnly()
    {
        byte[] model = Tiny();
        var before = Directory.GetFileSystemEntries(studio.Root, "*", SearchOption.AllDirectories).ToHashSet();

        using var response = await Create(model, "../../mine.onnx", ("name", "own model"), ("capacity", "5"), ("featureOutput", "f"));
        var project = await StudioServerFixture.Json(response);

        Assert.Equal("own model", project.GetProperty("name").GetString());
        Assert.Equal("mine.onnx", project.GetProperty("baseDescription").GetString());
        Assert.Equal(5, project.GetProperty("capacity").GetInt32());
        long id = project.GetProperty("id").GetInt64();
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(studio.WorkspaceDirectory, "bases", $"{id}.onnx")));
        Assert.Equal(new long[] { 5, 4 }, studio.Workspace.LoadModel(id).GetParameterShape("classifier.weight"));
        // The file name the browser sent is text only: nothing appears outside the workspace's own layout.
        var added = Directory.GetFileSystemEntries(studio.Root, "*", SearchOption.AllDirectories).Where(p => !before.Contains(p)).ToList();
        Assert.All(added, p => Assert.StartsWith(studio.WorkspaceDirectory + Path.DirectorySeparatorChar, p));
        Assert.DoesNotContain(added, p => p.Contains("mine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NotAnOnnxFile_OrAMissingFeatureOutput_Is400_WithTheLibrarysMessage_AndNoProject()
    {
        int before = studio.Workspace.ListProjects().Count;

        using var text = await Create("this is not a model"u8.ToArray(), "notes.onnx", ("name", "bad"), ("featureOutput", "f"));
        using var noOutput = await Create(Tiny(), "tiny.onnx", ("name", "bad"), ("featureOutput", "no-such-tensor"));
        using var badNumber = await Create(Tiny(), "tiny.onnx", ("name", "bad"), ("capacity", "many"), ("featureOutput", "f"));

        foreach (var (response, expected) in new[] { (text, "notes.onnx"), (noOutput, "no-such-tensor"), (badNumber, "capacity 'many'") })
        {
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {body}");
            string error = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!;
            Assert.Contains(expected, error);
            Assert.DoesNotContain("tailor-studio-upload", error);   // never the server's temporary copy
        }
        Assert.Equal(before, studio.Workspace.ListProjects().Count);
    }
}
