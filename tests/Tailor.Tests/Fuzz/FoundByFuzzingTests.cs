namespace Tailor.Tests.Fuzz;

/// <summary>Inputs the fuzz tests found mishandled, each kept as a plain regression test.</summary>
public sealed class FoundByFuzzingTests(PreparedModelFixture model) : IClassFixture<PreparedModelFixture>
{
    [Fact]
    public void ModelThroughASymbolicLink_Loads()
    {
        // Found with a link to /dev/null as MODEL; before, FileInfo measured the link (a few bytes), so a link to a
        // real model was refused as "truncated or not ONNX".
        string link = Path.Combine(model.Directory, "link-" + Guid.NewGuid().ToString("N") + ".onnx");
        File.CreateSymbolicLink(link, model.Path);
        try
        {
            var loaded = UpdatableModel.Load(link);
            Assert.Equal(model.Load().Spec.Labels.Names, loaded.Spec.Labels.Names);
        }
        finally { File.Delete(link); }
    }
}
