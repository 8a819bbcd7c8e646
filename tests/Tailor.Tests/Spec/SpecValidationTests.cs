using Tailor.Building;
using Tailor.Tests.Images;

namespace Tailor.Tests.Spec;

/// <summary>
/// A model whose update spec was edited by hand (or damaged) is refused when it loads, by the library and by every
/// command, with a TailorException naming the model file and the field — never a NullReferenceException, an
/// InvalidOperationException, or a model that loads and fails later.
/// </summary>
[Collection("Serial")]
public sealed class SpecValidationTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _dir = new();

    private readonly string _model = SpecEditing.WriteTinyModel(System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"tailor-spec-{Guid.NewGuid():N}.onnx"));

    public void Dispose()
    {
        _dir.Dispose();
        File.Delete(_model);
    }

    private const string Lr = "hyperparameters.learning_rate";

    /// <summary>(what is edited, its new JSON or null to remove it, what the message must name).</summary>
    public static TheoryData<string, string?, string> Defects => new()
    {
        // null or a wrong JSON type anywhere
        { "", "[]", "update spec" },
        { "", "\"spec\"", "update spec" },
        { "version", "\"1\"", "version" },
        { "labels", "null", "labels" },
        { "labels", "[\"a\"]", "labels" },
        { "labels.names", "null", "labels.names" },
        { "labels.names[1]", "null", "labels.names[1]" },
        { "labels.names[1]", "7", "labels.names[1]" },
        { "labels.placeholders[0]", "\"x\"", "labels.placeholders[0]" },
        { "preprocessing", "null", "preprocessing" },
        { "preprocessing.width", "\"wide\"", "preprocessing.width" },
        { "hyperparameters", "null", "hyperparameters" },
        { Lr, "null", Lr },
        { Lr, "0.1", Lr },
        { Lr + ".allowed", "null", Lr + ".allowed" },
        { Lr + ".allowed", "\"all\"", Lr + ".allowed" },
        { Lr + ".allowed.range", "null", Lr + ".allowed" },
        { Lr + ".allowed.range[1]", "null", Lr + ".allowed.range[1]" },
        { Lr + ".kind", "\"Complex\"", Lr + ".kind" },
        { "loss", "null", "loss" },
        { "loss.input", "null", "loss.input" },
        { "updatable_layers", "null", "updatable_layers" },
        { "updatable_layers[0]", "null", "updatable_layers[0]" },
        { "updatable_layers[0].parameters", "null", "updatable_layers[0].parameters" },
        { "updatable_layers[0].name", null, "updatable_layers[0].name" },
        { "notes", "null", "notes" },
        { "notes.base_model", "null", "notes.base_model" },
        { "head", "7", "head" },
        { "trained_examples", "{\"a\": null}", "trained_examples.a" },
        { "trained_examples", "{\"a\": -1}", "trained_examples.a" },
        // a spec that does not match its graph
        { "input", "\"pixels\"", "input" },
        { "probabilities", "\"probs\"", "probabilities" },
        { "label_output", "\"name\"", "label_output" },
        { "features", "\"nowhere\"", "features" },
        { "labels", "{\"names\": [\"a\", \"b\"], \"placeholders\": []}", "labels.names" },
        { "labels.names", "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]", "labels.names" },
        { "preprocessing.channels", "\"Gray\"", "preprocessing.channels" },
        { "preprocessing.layout", "\"Nhwc\"", "preprocessing.layout" },
        { "preprocessing.width", "16", "preprocessing.width" },
        { "preprocessing.width", "0", "preprocessing.width" },
        { "preprocessing.height", "100000", "preprocessing.height" },
        { "preprocessing.height", "3000000000", "preprocessing.height" },
        { "preprocessing.scale", "0", "preprocessing.scale" },
        { "updatable_layers[0].name", "\"gone\"", "updatable_layers[0].name" },
        { "updatable_layers[0].parameters[0]", "\"gone.w\"", "updatable_layers[0].parameters[0]" },
        { "loss.input", "\"nowhere\"", "loss.input" },
        // defaults, ranges and learning rates
        { Lr + ".default", "5", Lr + ".default" },
        { Lr, """{"kind": "Real", "default": 0.5, "allowed": {"range": [1, 0]}}""", Lr + ".allowed" },
        { Lr, """{"kind": "Real", "default": 0.5, "allowed": {"range": [0, 1e400]}}""", Lr + ".allowed.range[1]" },
        { Lr, """{"kind": "Real", "default": -0.5, "allowed": {"range": [-1, 1]}}""", Lr },
        { Lr, """{"kind": "Real", "default": 0.5, "allowed": {"set": [-0.1, 0.5]}}""", Lr },
        { Lr, """{"kind": "Real", "default": 0.5, "allowed": {"set": []}}""", Lr + ".allowed" },
        { Lr, """{"kind": "Real", "default": 0.5, "allowed": {"set": [0.5], "range": [0, 1]}}""", Lr + ".allowed" },
        { "hyperparameters.epochs", """{"kind": "Int", "default": 3000000000, "allowed": {"range": [1, 3000000000]}}""", "hyperparameters.epochs" },
        { "hyperparameters.epochs", """{"kind": "Real", "default": 2.5, "allowed": {"range": [1, 10]}}""", "hyperparameters.epochs" },
        { "hyperparameters.batch_size", """{"kind": "Int", "default": 0, "allowed": {"set": [0, 8]}}""", "hyperparameters.batch_size" },
        // duplicate labels, capacity, missing names
        { "labels.names[1]", "\"a\"", "labels.names[1]" },
        { "labels.names[4]", "\" a \"", "labels.names[4]" },
        { "labels.names[1]", "\"\"", "labels.names[1]" },
        { "labels.names", "[]", "labels.names" },
        { "labels.capacity", "0", "labels.capacity" },
        { "labels.placeholders[0]", "9", "labels.placeholders[0]" },
        { "classifier", "\"\"", "classifier" },
        { "classifier", null, "classifier" },
        { "features", "\"\"", "features" },
        { "features", null, "features" },
    };

    [Theory]
    [MemberData(nameof(Defects))]
    public void Load_RefusesDefect_NamingModelAndField(string path, string? raw, string field)
    {
        string bad = _dir.File("bad.onnx");
        SpecEditing.WriteWithJson(_model, SpecEditing.Edit(SpecEditing.ReadJson(_model), path, raw), bad);
        var e = Assert.Throws<TailorException>(() => UpdatableModel.Load(bad));
        output.WriteLine(e.Message);
        Assert.Contains(bad, e.Message);
        Assert.Contains(field, e.Message);
        // ModelBuilder.Expand reads a model by the same step.
        var expand = Assert.Throws<TailorException>(() => ModelBuilder.Expand(bad, new ExpandOptions { Capacity = 6 }));
        Assert.Equal(e.Message, expand.Message);
    }

    [Fact]
    public void Load_UnchangedSpec_StillLoads()
    {
        // The edit helper round-trips the JSON, so the defects above differ from a good model in the edit alone.
        string same = _dir.File("same.onnx");
        SpecEditing.WriteWithJson(_model, SpecEditing.Edit(SpecEditing.ReadJson(_model), "notes.base_model", "\"tiny\""), same);
        Assert.Equal(["a", "b", "c", "user0", "user1"], UpdatableModel.Load(same).Spec.Labels.Names);
    }

    [Fact]
    public void Messages_SayWhatIsAllowed()
    {
        string Message(string path, string raw)
        {
            string bad = _dir.File("bad.onnx");
            SpecEditing.WriteWithJson(_model, SpecEditing.Edit(SpecEditing.ReadJson(_model), path, raw), bad);
            return Assert.Throws<TailorException>(() => UpdatableModel.Load(bad)).Message;
        }
        Assert.Contains("1 to 4096", Message("preprocessing.width", "100000"));
        Assert.Contains("1 to 4096", Message("preprocessing.height", "3000000000"));
        Assert.Contains("1,000,000", Message("hyperparameters.epochs", """{"kind": "Int", "default": 3000000000, "allowed": {"range": [1, 3000000000]}}"""));
        Assert.Contains("data", Message("input", "\"pixels\""));              // the graph's inputs
        Assert.Contains("fc", Message("classifier", "\"nope\""));             // the graph's candidate layers
        Assert.Contains("5 rows", Message("labels", "{\"names\": [\"a\", \"b\"], \"placeholders\": []}"));
        string duplicate = Message("labels.names[1]", "\"a\"");
        Assert.Contains("slots 0 and 1", duplicate);
        string huge = Message("input", "\"" + new string('x', 100_000) + "\"");
        Assert.True(huge.Length < 1000, huge);
    }

    [Theory]
    [InlineData("labels.names[1]", "null", "labels.names[1]")]
    [InlineData("hyperparameters.learning_rate.allowed", "null", "hyperparameters.learning_rate.allowed")]
    [InlineData("input", "\"pixels\"", "input")]
    [InlineData("hyperparameters.learning_rate", """{"kind": "Real", "default": 0.5, "allowed": {"range": [1, 0]}}""", "hyperparameters.learning_rate.allowed")]
    public async Task Info_ReportsDefect_Exit1(string path, string raw, string field)
    {
        string bad = _dir.File("bad.onnx");
        SpecEditing.WriteWithJson(_model, SpecEditing.Edit(SpecEditing.ReadJson(_model), path, raw), bad);
        var r = await SpecCli.RunAsync("info", bad);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains(bad, r.Stderr);
        Assert.Contains(field, r.Stderr);
        Assert.Equal("", r.Stdout);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public async Task Reset_MissingUpdatableLayer_NamesTheLayer()
    {
        string bad = _dir.File("bad.onnx");
        SpecEditing.WriteWithJson(_model, SpecEditing.Edit(SpecEditing.ReadJson(_model), "updatable_layers[0].name", "\"layer4.gone\""), bad);
        var r = await SpecCli.RunAsync("reset", bad);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.Contains("'layer4.gone'", r.Stderr);
        Assert.Contains(bad, r.Stderr);
    }
}

/// <summary>Reset restores fine-tuned layers from a base model; a base without one of their parameters is refused
/// naming the layer as well as the parameter.</summary>
public sealed class ResetBaseTests(PreparedModelFixture fixture) : IClassFixture<PreparedModelFixture>, IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Reset_BaseWithoutTheLayer_NamesTheLayer()
    {
        var model = fixture.Load();
        string layer = model.Spec.UpdatableLayers.First(l => l.Name != model.Spec.Classifier).Name;
        string tiny = SpecEditing.WriteTinyModel(_dir.File("tiny.onnx"));
        var e = Assert.Throws<TailorException>(() => ModelBuilder.Reset(model, new ResetOptions { BaseModelPath = tiny }));
        Assert.Contains($"'{layer}'", e.Message);
        Assert.Contains(tiny, e.Message);
    }
}
