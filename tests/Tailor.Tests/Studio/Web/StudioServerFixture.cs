using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using StudioWorkspace = Tailor.Studio.Workspace;
using Tailor.Studio.Runs;
using Tailor.Studio.Web;

namespace Tailor.Tests.Studio.Web;

/// <summary>A real studio on 127.0.0.1, port 0, over a workspace in a temporary folder (<see cref="Root"/>/ws, so that a
/// test can check nothing was written beside it), with a client whose requests carry the studio's own Origin.</summary>
public sealed class StudioServerFixture : IAsyncLifetime
{
    public string Root { get; } = Directory.CreateTempSubdirectory("tailor-studio-web").FullName;

    public string WorkspaceDirectory => Path.Combine(Root, "ws");

    public StudioWorkspace Workspace { get; private set; } = null!;

    public RunManager Runs { get; private set; } = null!;

    public StudioServer Server { get; private set; } = null!;

    /// <summary>Sends the studio's own Origin, as its pages do.</summary>
    public HttpClient Http { get; private set; } = null!;

    public string Origin => Server.Url.GetLeftPart(UriPartial.Authority);

    public async Task InitializeAsync()
    {
        Workspace = StudioWorkspace.Open(WorkspaceDirectory);
        Runs = new RunManager(Workspace);
        Server = await StudioServer.StartAsync(Workspace, Runs, new StudioServerOptions { Port = 0 });
        Http = new HttpClient { BaseAddress = Server.Url, Timeout = TimeSpan.FromMinutes(10) };
        Http.DefaultRequestHeaders.Add("Origin", Origin);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Runs.Dispose();
        Workspace.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    // ---- API helpers: each asserts the call succeeded and returns its JSON ----

    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<JsonElement> Get(string path) => await Json(await Http.GetAsync(path));

    public async Task<JsonElement> Post(string path, object body) => await Json(await Http.PostAsJsonAsync(path, body));

    public async Task<long> CreateProject(string name) => (await Post("/api/projects", new { name, @base = "resnet18" })).GetProperty("id").GetInt64();

    public async Task<long> AddLabel(long project, string name) =>
        (await Post($"/api/projects/{project}/labels", new { name })).GetProperty("id").GetInt64();

    /// <summary>POSTs files (name, bytes) as one multipart upload to a label's set; returns the response.</summary>
    public Task<HttpResponseMessage> Upload(long project, long label, string set, params (string Name, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            // The file name exactly as given (MultipartFormDataContent would encode it its own way).
            part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"files\"", FileName = "\"" + name + "\"" };
            form.Add(part);
        }
        return Http.PostAsync($"/api/projects/{project}/examples?label={label}&set={set}", form);
    }

    /// <summary>A PNG that declares <paramref name="width"/>×<paramref name="height"/> pixels and holds none.</summary>
    public static byte[] PngHeader(int width, int height) => Tailor.Tests.Images.TestImages.PngHeaderOnly(width, height);

    public static string[] HandPhotos(string set, string label) =>
        Directory.GetFiles(Path.Combine(TestData.Hands, set, label)).Order(StringComparer.Ordinal).ToArray();


}
