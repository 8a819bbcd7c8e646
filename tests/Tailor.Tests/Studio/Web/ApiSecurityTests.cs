using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tailor.Tests.Studio.Web;

/// <summary>
/// The security items through the real API on a real workspace: Host and Origin checks in front of the workspace,
/// uploads refused by name (too large, not an image by content, a pixel bomb), a corrupt JPEG listed as corrupt, and
/// path tricks in labels and file names that create nothing outside the workspace's own layout.
/// </summary>
[Trait("Category", "Slow")]   // one project prepared from ResNet18 (a few seconds)
public sealed class ApiSecurityTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private async Task<long> Project(string name) => await studio.CreateProject(name);

    private static async Task<string> Error(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("error").GetString()!;
    }

    [Fact]
    public async Task CreateProject_WithoutOrigin_OrFromAnotherSite_Is403_AndCreatesNothing()
    {
        int before = studio.Workspace.ListProjects().Count;
        using var bare = new HttpClient { BaseAddress = studio.Server.Url };
        using var none = await bare.PostAsJsonAsync("/api/projects", new { name = "csrf", @base = "resnet18" });
        var foreign = new HttpRequestMessage(HttpMethod.Post, "/api/projects") { Content = JsonContent.Create(new { name = "csrf", @base = "resnet18" }) };
        foreign.Headers.Add("Origin", "http://evil.example");
        using var other = await bare.SendAsync(foreign);

        Assert.Equal(HttpStatusCode.Forbidden, none.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Equal(before, studio.Workspace.ListProjects().Count);
    }

    [Fact]
    public async Task Api_UnderAnotherHostName_Is400()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/projects");
        request.Headers.Host = $"rebound.evil.example:{studio.Server.Port}";
        using var response = await studio.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task MissingProject_Is404_WithTheWorkspacesMessage()
    {
        using var response = await studio.Http.GetAsync("/api/projects/987654");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("There is no project 987654 in this workspace.", await Error(response));
    }

    [Fact]
    public async Task Uploads_AreRefusedByName_TooLarge_NotAnImage_PixelBomb_TheOthersAreAdded()
    {
        long project = await Project("refusals");
        long label = await studio.AddLabel(project, "✊");
        byte[] photo = File.ReadAllBytes(StudioServerFixture.HandPhotos("train", "✊")[0]);
        byte[] tooLarge = new byte[Tailor.Studio.Workspace.MaxUploadBytes + 1];
        photo.CopyTo(tooLarge, 0);

        using var response = await studio.Upload(project, label, "train",
            ("big.jpg", tooLarge), ("notes.jpg", "hello, I am not a picture"u8.ToArray()), ("bomb.png", StudioServerFixture.PngHeader(20000, 20000)),
            ("good.jpg", photo));
        var result = await StudioServerFixture.Json(response);

        var added = result.GetProperty("added").EnumerateArray().ToList();
        Assert.Equal("good.jpg", Assert.Single(added).GetProperty("originalName").GetString());
        var refused = result.GetProperty("refused").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("error").GetString()!);
        Assert.Equal(["big.jpg", "bomb.png", "notes.jpg"], refused.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("'big.jpg' is larger than 25 MiB", refused["big.jpg"]);
        Assert.Contains("'notes.jpg' is not an image Tailor reads", refused["notes.jpg"]);
        Assert.Contains("'bomb.png' declares 20000×20000 pixels", refused["bomb.png"]);
        Assert.Equal(1, studio.Workspace.ListExamples(project, null, null, 0, 10).Total);
    }

    [Fact]
    public async Task Upload_OfTheSamePhotoTwice_IsReportedAsADuplicate()
    {
        long project = await Project("duplicates");
        long label = await studio.AddLabel(project, "✋");
        byte[] photo = File.ReadAllBytes(StudioServerFixture.HandPhotos("train", "✋")[0]);
        var first = await StudioServerFixture.Json(await studio.Upload(project, label, "train", ("a.jpg", photo)));
        var second = await StudioServerFixture.Json(await studio.Upload(project, label, "test", ("b.jpg", photo)));
        Assert.Single(first.GetProperty("added").EnumerateArray());
        Assert.Empty(second.GetProperty("added").EnumerateArray());
        Assert.Single(second.GetProperty("duplicates").EnumerateArray());
    }

    [Fact]
    public async Task CorruptJpeg_IsListedAsCorrupt_WithItsReason()
    {
        long project = await Project("corrupt");
        long label = await studio.AddLabel(project, "✌️");
        byte[] whole = File.ReadAllBytes(StudioServerFixture.HandPhotos("train", "✌️")[0]);
        await StudioServerFixture.Json(await studio.Upload(project, label, "train", ("half.jpg", whole[..(whole.Length / 2)])));

        var page = await studio.Get($"/api/projects/{project}/examples?label={label}&set=train");
        var item = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.True(item.GetProperty("corrupt").GetBoolean());
        Assert.Contains("truncated", item.GetProperty("corruptReason").GetString());
        Assert.Equal(1, page.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task PathTricks_InALabel_AndAFileName_CreateNothingOutsideTheWorkspacesLayout()
    {
        var before = Tree(studio.Root);
        string outside = Path.GetDirectoryName(studio.Root)!;   // the temporary folder: ../../x from a folder two levels down
        var outsideBefore = Outside(outside);
        long project = await Project("paths");
        long label = await studio.AddLabel(project, "../../x");
        byte[] photo = File.ReadAllBytes(StudioServerFixture.HandPhotos("train", "✊")[1]);
        var result = await StudioServerFixture.Json(await studio.Upload(project, label, "train", ("../../x.jpg", photo)));

        var example = Assert.Single(result.GetProperty("added").EnumerateArray());
        Assert.Equal("../../x.jpg", example.GetProperty("originalName").GetString());   // kept as text
        Assert.Equal("../../x", example.GetProperty("label").GetString());
        // Everything new is inside the workspace, and no file or folder there is named after the label or the file.
        var added = Tree(studio.Root).Except(before).ToList();
        Assert.NotEmpty(added);
        Assert.All(added, path => Assert.StartsWith("ws/", path));
        Assert.DoesNotContain(added, path => path.Split('/').Any(part => part is "x" or "x.jpg" or ".."));
        string hash = example.GetProperty("sha256").GetString()!;
        Assert.Contains($"ws/images/{hash[..2]}/{hash}", added);
        Assert.Equal(outsideBefore, Outside(outside));
    }

    /// <summary>What x and x.jpg are beside the test's folder (another program may own one): their kind and time.</summary>
    private static string Outside(string folder)
    {
        string Of(string name) => Path.Combine(folder, name) is var path && Directory.Exists(path)
            ? $"{name}: folder of {Directory.GetFileSystemEntries(path).Length}, {Directory.GetLastWriteTimeUtc(path):O}"
            : File.Exists(path) ? $"{name}: file, {File.GetLastWriteTimeUtc(path):O}" : $"{name}: none";
        return Of("x") + "; " + Of("x.jpg");
    }

    [Fact]
    public async Task Upload_OfSomethingElseThanMultipart_Is415()
    {
        long project = studio.Workspace.ListProjects().FirstOrDefault()?.Id ?? await Project("media");
        using var response = await studio.Http.PostAsJsonAsync($"/api/projects/{project}/examples?label=1&set=train", new { });
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("multipart/form-data", await Error(response));
    }

    /// <summary>Every file and folder under <paramref name="root"/>, relative, with '/' separators; the database's own
    /// journal files left out (they come and go).</summary>
    private static HashSet<string> Tree(string root) =>
        Directory.GetFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Where(p => !p.Contains("workspace.db-", StringComparison.Ordinal))
            .ToHashSet();
}
