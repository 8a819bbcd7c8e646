using System.Text.Json;
using Tailor.Tests.Building;
using Tailor.Tests.Images;

namespace Tailor.Tests.Cli;

/// <summary><c>tailor layers MODEL [--json]</c>.</summary>
[Trait("Category", "Slow")]
public sealed class LayersCommandTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [SharedModelsTheory]
    [InlineData("shufflenet_v2_x0_5-opset11.onnx")]
    public void Json_ListsTheLayersInGraphOrder_WithShapes_Parameters_Reachability_AndTheLastBlock(string file)
    {
        var r = CliRunner.Run("layers", Path.Combine(SharedData.Models, file), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = JsonDocument.Parse(r.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(57, rows.Count);
        Assert.Equal("/conv1/conv1.0/Conv", rows[0].GetProperty("name").GetString());
        var fc = rows[^1];
        Assert.Equal("/fc/Gemm", fc.GetProperty("name").GetString());
        Assert.Equal("Gemm", fc.GetProperty("op").GetString());
        Assert.Equal(1024 * 1000 + 1000, fc.GetProperty("parameter_count").GetInt64());
        Assert.Equal("[N, 1000]", fc.GetProperty("output_shape").GetString());
        Assert.True(fc.GetProperty("backprop_reaches").GetBoolean());
        Assert.True(fc.GetProperty("last_block").GetBoolean());
        Assert.Equal("[N, 1024, 7, 7]", rows[^2].GetProperty("output_shape").GetString());
        Assert.Equal(5, rows.Count(x => x.GetProperty("last_block").GetBoolean()));
    }

    [Fact]
    public void OnAPreparedModel_TheTableShowsTheDefaultFineTunedLayers()
    {
        string model = _dir.File("m.onnx");
        Assert.Equal(0, CliRunner.Run("prepare", "--labels", "a,b", "--capacity", "2", "--out", model).ExitCode);
        var r = CliRunner.Run("layers", model);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("BatchNormalization389", r.Stdout);
        Assert.Contains("[N, 512, 7, 7]", r.Stdout);
        Assert.Contains("classifier", r.Stdout);
        Assert.Contains("last-block", r.Stdout);
    }

    [Fact]
    public void NotAModel_ExitsWith1_AndAMessage()
    {
        string bad = _dir.File("bad.onnx");
        File.WriteAllText(bad, "not a model");
        var r = CliRunner.Run("layers", bad);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("bad.onnx", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
        var missing = CliRunner.Run("layers", _dir.File("missing.onnx"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("missing.onnx", missing.Stderr);
    }

    [Fact]
    public void PrepareUpdatableLastBlock_TrainsTheLastBasicBlock()
    {
        string model = _dir.File("lb.onnx");
        var r = CliRunner.Run("prepare", "--labels", "a,b", "--capacity", "2", "--updatable", "last-block", "--out", model);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("Convolution381", r.Stdout);
        Assert.Contains("BatchNormalization389", r.Stdout);
    }
}
