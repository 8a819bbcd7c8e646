using Tailor.Training.Schedules;

namespace Tailor.Tests.Training;

public class ScheduleTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Constant_IsBase(int epoch) => Assert.Equal(0.3, new ConstantSchedule().LearningRateAt(epoch, 0.3));

    [Theory]
    [InlineData(0, 0.1)]
    [InlineData(2, 0.1)]
    [InlineData(3, 0.05)]
    [InlineData(5, 0.05)]
    [InlineData(6, 0.025)]
    [InlineData(10, 0.0125)]
    public void Step_DecaysEveryNEpochs(int epoch, double expected) =>
        Assert.Equal(expected, new StepSchedule(stepSize: 3, gamma: 0.5).LearningRateAt(epoch, 0.1), 12);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(50)]
    public void Exponential_IsGammaToTheEpoch(int epoch) =>
        Assert.Equal(0.2 * Math.Pow(0.9, epoch), new ExponentialSchedule(0.9).LearningRateAt(epoch, 0.2), 14);

    [Theory]
    [InlineData(0, 0.1)]              // start: the base rate
    [InlineData(5, 0.055)]            // half way: (0.1 + 0.01) / 2
    [InlineData(10, 0.01)]            // end: the minimum
    [InlineData(25, 0.01)]            // after: stays at the minimum
    public void Cosine_KeyPoints(int epoch, double expected) =>
        Assert.Equal(expected, new CosineSchedule(period: 10, minimumLearningRate: 0.01).LearningRateAt(epoch, 0.1), 12);

    [Fact]
    public void Cosine_MatchesFormula_AndFallsMonotonically()
    {
        var s = new CosineSchedule(period: 20, minimumLearningRate: 1e-4);
        double previous = double.MaxValue;
        for (int e = 0; e <= 20; e++)
        {
            double lr = s.LearningRateAt(e, 0.05);
            Assert.Equal(1e-4 + (0.05 - 1e-4) * (1 + Math.Cos(Math.PI * e / 20)) / 2, lr, 14);
            Assert.True(lr < previous || e == 0);
            previous = lr;
        }
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 3 / 20)), new CosineSchedule(20).LearningRateAt(3, 1.0), 14);
    }

    [Fact]
    public void InvalidArguments_NameValueAndRange()
    {
        Assert.Contains("step size must be ≥ 1 epoch; got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(0, 0.5)).Message);
        Assert.Contains("gamma must be in (0, 1]; got 1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialSchedule(1.5)).Message);
        Assert.Contains("gamma must be in (0, 1]; got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(2, 0)).Message);
        Assert.Contains("period must be ≥ 1 epoch; got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(0)).Message);
        Assert.Contains("minimum learning rate must be finite and ≥ 0; got -1", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(5, -1)).Message);
        Assert.Contains("epoch must be ≥ 0; got -1", Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule().LearningRateAt(-1, 0.1)).Message);
        Assert.Contains("base learning rate must be finite and ≥ 0; got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule().LearningRateAt(0, double.NaN)).Message);
    }

    [Fact]
    public void Parse_ReadsEachForm_CosineOverTheRunsEpochs()
    {
        Assert.IsType<ConstantSchedule>(LearningRateSchedule.Parse("constant", 10));
        var step = Assert.IsType<StepSchedule>(LearningRateSchedule.Parse("step:3:0.5", 10));
        Assert.Equal((3, 0.5), (step.StepSize, step.Gamma));
        Assert.Equal(0.9, Assert.IsType<ExponentialSchedule>(LearningRateSchedule.Parse("EXP:0.9", 10)).Gamma);
        var cosine = Assert.IsType<CosineSchedule>(LearningRateSchedule.Parse("cosine", 40));
        Assert.Equal((40, 0.0), (cosine.Period, cosine.MinimumLearningRate));
        Assert.Equal(1e-4, Assert.IsType<CosineSchedule>(LearningRateSchedule.Parse("cosine:0.0001", 40)).MinimumLearningRate);
    }

    [Theory]
    [InlineData("wavy", "is not constant, step:EPOCHS:GAMMA, exp:GAMMA or cosine[:MIN_LR]")]
    [InlineData("step:3", "is not constant")]
    [InlineData("exp:fast", "'fast' is not a number")]
    [InlineData("exp:1.5", "gamma must be in (0, 1]")]
    [InlineData("cosine:-1", "minimum learning rate")]
    public void Parse_BadText_NamesItAndWhatIsWrong(string text, string expected)
    {
        var e = Assert.Throws<TailorException>(() => LearningRateSchedule.Parse(text, 10));
        Assert.Contains($"'{text}'", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
