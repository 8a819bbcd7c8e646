using System.Text.RegularExpressions;
using Tailor.Studio.Web;

namespace Tailor.Tests.Studio.Web;

/// <summary>The page's own files as the studio serves them (embedded in the assembly).</summary>
public sealed class StudioPagesTests
{
    /// <summary>index.html names every module app.js imports, directly or through another module (statically, or as a
    /// screen's module when it is shown), as a modulepreload: the browser asks for them all at once instead of level by
    /// level as each module is parsed (app.js, then collect.js, then camera.js…), which put a round trip or two before the
    /// first screen's first request.</summary>
    [Fact]
    public void IndexHtml_PreloadsEveryModuleTheAppImports()
    {
        var pages = StudioServer.Pages();
        if (pages is null) return;   // built without the front end: nothing served
        string Read(string path)
        {
            var file = pages.GetFileInfo(path);
            Assert.True(file.Exists, $"{path} is not among the studio's pages");
            using var reader = new StreamReader(file.CreateReadStream());
            return reader.ReadToEnd();
        }

        var imported = new SortedSet<string>(StringComparer.Ordinal);
        var next = new Queue<string>(["app.js"]);
        while (next.TryDequeue(out var module))
            foreach (Match m in Regex.Matches(Read("js/" + module), @"^import\s[^;]*?from\s+'\./([\w.-]+\.js)'|\bimport\('\./([\w.-]+\.js)'\)", RegexOptions.Multiline))
            {
                string name = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
                if (imported.Add(name)) next.Enqueue(name);
            }
        var preloaded = Regex.Matches(Read("index.html"), "<link rel=\"modulepreload\" href=\"/js/([\\w.-]+\\.js)\">")
            .Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();

        Assert.Contains("collect.js", imported);
        Assert.Contains("camera.js", imported);   // collect.js's own import, found through the screen's dynamic import
        Assert.Equal(imported, preloaded);
    }
}
