using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Tailor.Tests.Studio.Web;

/// <summary>Import and export over HTTP: an upload is imported in the background and polled; exports stream zips.</summary>
[Trait("Category", "Slow")]
public sealed class ApiTransferTests(StudioServerFixture studio) : IClassFixture<StudioServerFixture>
{
    private static HttpContent FileForm(string fileName, byte[] bytes, string? name = null)
    {
        var form = new MultipartFormDataContent();
        if (name is not null) form.Add(new StringContent(name), "name");
        var part = new ByteArrayContent(bytes);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/zip");
        form.Add(part, "file", fileName);
        return form;
    }

    private async Task<JsonElement> Import(string path, HttpContent form)
    {
        var response = await studio.Http.PostAsync(path, form);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await StudioServerFixture.Json(response);
        Assert.Equal("running", job.GetProperty("state").GetString());
        while (true)
        {
            job = await studio.Get($"/api/imports/{job.GetProperty("id").GetInt64()}");
            if (job.GetProperty("state").GetString() != "running") return job;
            await Task.Delay(100);   // polling a background import
        }
    }

    private static byte[] Zip(params (string Name, byte[] Bytes)[] files)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, bytes) in files)
            {
                using var s = zip.CreateEntry(name).Open();
                s.Write(bytes);
            }
        return memory.ToArray();
    }

    private static (string, byte[])[] Hands() =>
        Directory.GetFiles(TestData.Hands, "*", SearchOption.AllDirectories)
            .Select(f => ("hands/" + Path.GetRelativePath(TestData.Hands, f).Replace('\\', '/'), File.ReadAllBytes(f))).ToArray();

    [Fact]
    public async Task ZipUpload_BecomesAProject_ItsExportsStream_AndTheProjectFileImportsBackWhole()
    {
        var job = await Import("/api/projects/import", FileForm("hands.zip", Zip(Hands()), "from zip"));
        Assert.Equal("finished", job.GetProperty("state").GetString());
        Assert.Equal(45, job.GetProperty("added").GetInt32());
        Assert.Equal(job.GetProperty("total").GetInt32(), job.GetProperty("done").GetInt32());
        Assert.Equal(2, job.GetProperty("refused").GetInt32());   // hands/README.md and hands/LICENSE: in no label folder
        long p = job.GetProperty("projectId").GetInt64();
        Assert.Equal("from zip", (await studio.Get($"/api/projects/{p}")).GetProperty("name").GetString());

        // The photos zip: 45 entries under train/ and test/.
        var photos = await studio.Http.GetAsync($"/api/projects/{p}/export/photos.zip");
        Assert.Equal(HttpStatusCode.OK, photos.StatusCode);
        Assert.Equal($"tailor-project-{p}-photos.zip", photos.Content.Headers.ContentDisposition?.FileName);
        using (var zip = new ZipArchive(new MemoryStream(await photos.Content.ReadAsByteArrayAsync())))
        {
            Assert.Equal(45, zip.Entries.Count);
            Assert.Equal(30, zip.Entries.Count(e => e.FullName.StartsWith("train/", StringComparison.Ordinal)));
        }

        // The project file, imported as a new project; into an existing project it is refused.
        var file = await studio.Http.GetAsync($"/api/projects/{p}/export/project.tailor");
        Assert.Equal($"tailor-project-{p}.tailor", file.Content.Headers.ContentDisposition?.FileName);
        byte[] bytes = await file.Content.ReadAsByteArrayAsync();
        job = await Import("/api/projects/import", FileForm("hands.tailor", bytes));
        Assert.Equal("finished", job.GetProperty("state").GetString());
        Assert.Equal("project", job.GetProperty("kind").GetString());
        long copy = job.GetProperty("projectId").GetInt64();
        Assert.NotEqual(p, copy);
        var examples = await studio.Get($"/api/projects/{copy}/examples?limit=100");
        Assert.Equal(45, examples.GetProperty("total").GetInt32());
        Assert.Equal((await studio.Get($"/api/projects/{p}/models")).GetArrayLength(), (await studio.Get($"/api/projects/{copy}/models")).GetArrayLength());

        var refused = await studio.Http.PostAsync($"/api/projects/{p}/import", FileForm("hands.tailor", bytes));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("is a whole project (a .tailor file)", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HostileZip_FailsTheJobNamingTheEntry_AndNothingIsMade()
    {
        int before = (await studio.Get("/api/projects")).GetArrayLength();
        var job = await Import("/api/projects/import", FileForm("evil.zip", Zip(("cat/a.jpg", [0xFF, 0xD8, 0xFF]), ("../../x.jpg", [0xFF, 0xD8, 0xFF]))));
        Assert.Equal("failed", job.GetProperty("state").GetString());
        Assert.Contains("'evil.zip' has an entry whose name climbs out of the archive with '..': '../../x.jpg'", job.GetProperty("error").GetString());
        Assert.Equal(before, (await studio.Get("/api/projects")).GetArrayLength());

        var none = await studio.Http.GetAsync("/api/imports/999999");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        var missing = await studio.Http.GetAsync("/api/projects/999999/export/project.tailor");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
