using System.Text;
using Tailor.Training.Optimizers;

namespace Tailor.Tests.Training;

public class OptimizerStateTests
{
    private static byte[] Save(Optimizer o)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
            o.SaveState(w);
        return ms.ToArray();
    }

    private static void Load(Optimizer o, byte[] bytes)
    {
        using var r = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
        o.LoadState(r);
    }

    [Fact]
    public void SaveLoad_ContinuesIdentically()
    {
        var p = new TestParameter("w", 1f, 2f, 3f);
        var a = new Adam(learningRate: 0.02, beta2: 0.99);
        p.Gradients[0] = 0.3f; p.Gradients[2] = -1f;
        a.Step([p]);
        byte[] state = Save(a);
        Assert.Equal(state, Save(a)); // deterministic bytes

        var q = new TestParameter("w", (float[])p.Values.Clone());
        p.Gradients.CopyTo(q.Gradients, 0);
        var b = new Adam();
        Load(b, state);
        Assert.Equal(0.99, b.Beta2);
        a.Step([p]);
        b.Step([q]);
        Assert.Equal(CheckpointTests.BitsOf(p.Values), CheckpointTests.BitsOf(q.Values));
    }

    [Fact]
    public void WrongKind_Throws()
    {
        var e = Assert.Throws<InvalidDataException>(() => Load(new Adam(), Save(new Sgd())));
        Assert.Equal("The optimizer state is for 'sgd', but this optimizer is 'adam'.", e.Message);
    }

    [Fact]
    public void TruncatedState_Throws_AndChangesNothing()
    {
        var p = new TestParameter("w", 1f, 2f);
        var src = new Sgd(learningRate: 0.5, momentum: 0.9);
        p.Gradients[0] = 1f;
        src.Step([p]);
        byte[] state = Save(src);

        var target = new Sgd(learningRate: 0.1);
        var other = new TestParameter("other", 0f);
        target.Step([other]);
        Assert.Throws<EndOfStreamException>(() => Load(target, state[..^3]));
        Assert.Equal(0.1, target.LearningRate);
        Assert.Equal(0.0, target.Momentum);
        Assert.Equal(1, target.StepCount);
        target.Step([other]); // its state for "other" is still there
    }
}
