using Tailor.Building;
using Tailor.Heads;
using Tailor.Images;
using Tailor.Spec;
using Tailor.Training;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Tests.Api;

/// <summary>One table of defaults (<see cref="TrainingDefaults"/>): every options type, the hyperparameters prepare
/// stores, and the CLI's help say the same values.</summary>
public sealed class TrainingDefaultsTests
{
    [Fact]
    public void LogisticRegression_HasOneL2Default_WhicheverWayItIsTrained()
    {
        Assert.Equal(TrainingDefaults.LogisticRegressionL2, new LogisticRegressionTrainingOptions().L2);
        Assert.Equal(TrainingDefaults.LogisticRegressionL2, new LogisticRegressionOptions().L2);
        Assert.Equal(TrainingDefaults.LbfgsMaxIterations, new LogisticRegressionTrainingOptions().MaxIterations);
        Assert.Equal(TrainingDefaults.LbfgsMaxIterations, new LogisticRegressionOptions().MaxIterations);
        Assert.Equal(TrainingDefaults.NormalizeFeatures, new LogisticRegressionOptions().NormalizeFeatures);
    }

    [Fact]
    public void OptionsAndPreparedModels_ReadTheTable()
    {
        var prepare = new PrepareOptions();
        Assert.Equal(TrainingDefaults.Capacity, prepare.Capacity);
        Assert.Equal(TrainingDefaults.InitSeed, prepare.InitSeed);
        Assert.Equal(TrainingDefaults.Optimizer, prepare.Optimizer);
        Assert.Equal(TrainingDefaults.LearningRateSchedule, prepare.LearningRateSchedule);
        Assert.Equal(TrainingDefaults.NormalizeFeatures, prepare.NormalizeFeatures);
        Assert.Equal(TrainingDefaults.Patience, new TrainingOptions().Patience);
        Assert.Equal(TrainingDefaults.ValidationSplit, new TrainingOptions().ValidationSplit);
        Assert.Equal(TrainingDefaults.Seed, new KnnTrainingOptions().Seed);
        Assert.Equal("flip,rotate:15,crop:0.8,variants:4", AugmentationOptions.FewShot.ToString());

        var adam = DefaultHyperparameters.For(OptimizerKind.Adam);
        Assert.Equal(TrainingDefaults.AdamLearningRate, Convert.ToDouble(adam[H.LearningRate].Default));
        Assert.Equal(TrainingDefaults.BatchSize, Convert.ToDouble(adam[H.BatchSize].Default));
        Assert.Equal(TrainingDefaults.Epochs, Convert.ToDouble(adam[H.Epochs].Default));
        Assert.Equal(TrainingDefaults.Seed, Convert.ToDouble(adam[H.Seed].Default));
        Assert.Equal(TrainingDefaults.WeightDecay, Convert.ToDouble(adam[H.WeightDecay].Default));
        Assert.Equal(TrainingDefaults.Beta1, Convert.ToDouble(adam[H.Beta1].Default));
        Assert.Equal(TrainingDefaults.Beta2, Convert.ToDouble(adam[H.Beta2].Default));
        Assert.Equal(TrainingDefaults.Epsilon, Convert.ToDouble(adam[H.Epsilon].Default));
        var sgd = DefaultHyperparameters.For(OptimizerKind.Sgd);
        Assert.Equal(TrainingDefaults.SgdLearningRate, Convert.ToDouble(sgd[H.LearningRate].Default));
        Assert.Equal(TrainingDefaults.Momentum, Convert.ToDouble(sgd[H.Momentum].Default));

        var knn = new KNearestNeighbors(4);
        Assert.Equal((TrainingDefaults.KnnK, TrainingDefaults.KnnWeighting, TrainingDefaults.KnnMetric), (knn.K, knn.Weighting, knn.Metric));
    }

    [Fact]
    public void TheCliHelp_StatesTheTablesDefaults()
    {
        var train = Tailor.Cli.Commands.TrainCommand.Create();
        string Help(string option) => train.Options.Single(o => o.Name == option).Description!;
        Assert.Contains($"(default: {TrainingDefaults.LogisticRegressionL2.ToString(System.Globalization.CultureInfo.InvariantCulture)})", Help("--l2"));
        Assert.Contains($"(default: {TrainingDefaults.KnnK})", Help("--k"));
        Assert.Contains("(default: uniform)", Help("--weighting"));
        Assert.Contains("(default: euclidean)", Help("--metric"));
    }
}
