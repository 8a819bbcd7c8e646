using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit.Abstractions;

namespace Tailor.Tests;

/// <summary>
/// The packages as a user gets them (slow: packs, restores, builds and trains; about a minute and a half on two cores):
/// <c>Tailor</c> and the <c>Tailor.Cli</c> tool are packed into a local folder feed; a fresh console app outside the
/// repository references <c>Tailor</c> by package, builds the README's sample (samples/Quickstart/Program.cs, copied as
/// text) and runs it on the hands photos; the tool is installed with <c>dotnet tool install --tool-path</c> and runs
/// <c>tailor info</c> on the model the sample wrote. Everything else comes from this machine's NuGet packages folder
/// (a fallback folder: nothing is downloaded, and nothing is added to it).
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class PackageTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tailor-packages").FullName;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public void Packages_FromALocalFeed_RunTheReadmeSample_AndInstallTheTool()
    {
        string root = ReadmeTests.RepositoryRoot();
        // A version no cache can hold already: restore must take the packages just made.
        string version = "0.0.0-test." + Guid.NewGuid().ToString("N")[..12];
        string feed = Path.Combine(_dir, "feed");
        // The configuration the tests were built in: its outputs are what gets packed (no second build).
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        foreach (var project in new[] { "src/Tailor/Tailor.csproj", "src/Tailor.Cli/Tailor.Cli.csproj" })
            Dotnet(root, "pack", Path.Combine(root, project), "-c", configuration, "--no-build", "-o", feed, "-p:PackageVersion=" + version);

        // The library: small, no ONNX file inside (ResNet18 comes by its dependency), with its README and XML docs.
        string library = Path.Combine(feed, $"Tailor.{version}.nupkg");
        Assert.True(new FileInfo(library).Length <= 5 << 20, $"Tailor package: {new FileInfo(library).Length:N0} bytes");
        using (var zip = ZipFile.OpenRead(library))
        {
            var names = zip.Entries.Select(e => e.FullName).ToList();
            Assert.DoesNotContain(names, n => n.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase));
            Assert.Contains("README.md", names);
            Assert.Contains("lib/net10.0/Tailor.dll", names);
            Assert.Contains("lib/net10.0/Tailor.xml", names);
            var nuspec = XDocument.Load(zip.GetEntry("Tailor.nuspec")!.Open());
            var ns = nuspec.Root!.Name.Namespace;
            Assert.Equal("README.md", nuspec.Descendants(ns + "readme").Single().Value);
            Assert.Equal("git", nuspec.Descendants(ns + "repository").Single().Attribute("type")?.Value);
            Assert.Contains(nuspec.Descendants(ns + "dependency"), d => d.Attribute("id")?.Value == "Microsoft.ML.DnnImageFeaturizer.ResNet18");
        }
        // The tool: ResNet18 once, in the published app, and the command 'tailor'.
        using (var zip = ZipFile.OpenRead(Path.Combine(feed, $"Tailor.Cli.{version}.nupkg")))
        {
            Assert.Single(zip.Entries, e => e.Name == "ResNet18.onnx");
            var settings = XDocument.Load(zip.Entries.Single(e => e.Name == "DotnetToolSettings.xml").Open());
            Assert.Equal("tailor", settings.Descendants("Command").Single().Attribute("Name")?.Value);
        }

        // A fresh console app that references Tailor by package, with the README's sample as its Program.cs.
        string app = Path.Combine(_dir, "app");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(_dir, "nuget.config"), NuGetConfig(feed, MachinePackagesFolder(), Path.Combine(_dir, "packages")));
        File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Tailor" Version="[{version}]" />
              </ItemGroup>
            </Project>
            """);
        File.Copy(Path.Combine(root, "samples", "Quickstart", "Program.cs"), Path.Combine(app, "Program.cs"));
        Dotnet(app, "build", "-c", "Release");
        string bin = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(bin, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx")),
            "the ResNet18 package's build props copied the model next to the app");

        // The sample trains on the first 5 training photos of each label (links to them; a third of the time of all 30:
        // what this test checks is the package, ReadmeTests checks the sample's accuracy on all of them).
        string train = Path.Combine(_dir, "train");
        foreach (var label in Directory.GetDirectories(TestData.HandsTrain))
        {
            string into = Directory.CreateDirectory(Path.Combine(train, Path.GetFileName(label))).FullName;
            foreach (var photo in Directory.GetFiles(label).Order(StringComparer.Ordinal).Take(5))
                File.CreateSymbolicLink(Path.Combine(into, Path.GetFileName(photo)), photo);
        }
        string model = Path.Combine(_dir, "hands.onnx");
        string output = Dotnet(app, Path.Combine(bin, "App.dll"), train, TestData.HandsTest, model);
        log.WriteLine(output);
        Assert.Matches(@"(?m)^epoch 1: loss \d", output);
        Assert.Matches(@"(?m)^Completed after \d+ epochs$", output);
        var accuracy = TestAccuracy().Match(output);
        Assert.True(accuracy.Success, output);
        Assert.Equal("15", accuracy.Groups[2].Value);
        Assert.True(int.Parse(accuracy.Groups[1].Value) >= 8, output);   // chance is 5/15

        // The tool, installed from the feed into a folder of its own, describes the model the sample wrote.
        string tools = Path.Combine(_dir, "tools");
        Dotnet(_dir, "tool", "install", "Tailor.Cli", "--version", version, "--tool-path", tools, "--configfile", Path.Combine(_dir, "nuget.config"));
        string json = Run(Path.Combine(tools, "tailor"), _dir, "info", model, "--json");
        using var info = JsonDocument.Parse(json);
        Assert.Equal(["✊", "✋", "✌️"], info.RootElement.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).Take(3));
        Assert.Equal(10, info.RootElement.GetProperty("capacity").GetInt32());
        Assert.Equal(15, info.RootElement.GetProperty("trained_examples").EnumerateObject().Sum(p => p.Value.GetInt32()));
    }

    /// <summary>The local feed first, then the sources this machine is configured with (inherited from the user's
    /// NuGet.Config); packages restore into a folder of the test's own, and every package this machine already has is
    /// read from its packages folder where it is (a fallback folder) instead of being downloaded or copied.</summary>
    private static string NuGetConfig(string feed, string machinePackages, string packages) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <config>
            <add key="globalPackagesFolder" value="{packages}" />
          </config>
          <packageSources>
            <add key="tailor-local-feed" value="{feed}" />
          </packageSources>
          <fallbackPackageFolders>
            <add key="machine" value="{machinePackages}" />
          </fallbackPackageFolders>
        </configuration>
        """;

    /// <summary>This machine's NuGet packages folder ($NUGET_PACKAGES, or what <c>dotnet nuget locals</c> names).</summary>
    private string MachinePackagesFolder()
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set) return set;
        string listed = Dotnet(_dir, "nuget", "locals", "global-packages", "--list");
        return listed[(listed.IndexOf(':') + 1)..].Trim();
    }

    private string Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args);

    /// <summary>Runs a program and returns its stdout; a non-zero exit fails the test with everything it printed.</summary>
    private string Run(string program, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // The test host's MSBuild settings would point the child's build at this repository's SDK resolution; the
        // packages folder is set by the nuget.config above.
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "NUGET_PACKAGES").ToList())
            psi.Environment.Remove(name);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["COLUMNS"] = "200";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException($"{program} {string.Join(" ", args)}"); }
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(" ", args)} exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        log.WriteLine($"{_clock.Elapsed.TotalSeconds,6:F1} s  {Path.GetFileName(program)} {string.Join(" ", args.Take(3))}");
        return stdout.Result;
    }

    [GeneratedRegex(@"(?m)^test accuracy .*\((\d+)/(\d+)\)$")]
    private static partial Regex TestAccuracy();
}
