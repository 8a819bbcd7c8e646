using Tailor.Spec;
using H = Tailor.Spec.HyperparameterNames;

namespace Tailor.Building;

/// <summary>
/// The hyperparameters a freshly prepared model carries. They are chosen so that prepare + train with no
/// further options does well on a few-shot set like the hands data; the reference app's settings
/// (SGD, lr 0.001, batch 8 ∈ {1, 2, 8, 16}, epochs 10 ∈ {1, 10, 50}) are <see cref="Reference"/>.
/// </summary>
public static class DefaultHyperparameters
{
    /// <summary>The defaults for an optimizer.</summary>
    public static Dictionary<string, Hyperparameter> For(OptimizerKind optimizer)
    {
        var h = new Dictionary<string, Hyperparameter>
        {
            [H.BatchSize] = Hyperparameter.Int(8, AllowedValues.OneOf(1, 2, 4, 8, 16, 32, 64)),
            [H.Epochs] = Hyperparameter.Int(60, AllowedValues.Between(1, 10_000)),
            [H.Shuffle] = Hyperparameter.Bool(true),
            [H.Seed] = Hyperparameter.Int(42, AllowedValues.Between(0, int.MaxValue)),
            [H.WeightDecay] = Hyperparameter.Real(1e-4, AllowedValues.Between(0, 1)),
        };
        if (optimizer == OptimizerKind.Sgd)
        {
            h[H.LearningRate] = Hyperparameter.Real(0.1, AllowedValues.Between(0, 10));
            h[H.Momentum] = Hyperparameter.Real(0.9, AllowedValues.Between(0, 0.999));
            h[H.Nesterov] = Hyperparameter.Bool(false);
        }
        else
        {
            h[H.LearningRate] = Hyperparameter.Real(0.01, AllowedValues.Between(0, 1));
            h[H.Beta1] = Hyperparameter.Real(0.9, AllowedValues.Between(0, 0.999999));
            h[H.Beta2] = Hyperparameter.Real(0.999, AllowedValues.Between(0, 0.999999));
            h[H.Epsilon] = Hyperparameter.Real(1e-8, AllowedValues.Between(0, 1));
        }
        return h;
    }

    /// <summary>The reference app's make_nn.py settings: SGD lr 0.001 momentum 0, batch 8 ∈ {1,2,8,16},
    /// epochs 10 ∈ {1,10,50}, no weight decay.</summary>
    public static Dictionary<string, Hyperparameter> Reference() => new()
    {
        [H.LearningRate] = Hyperparameter.Real(0.001, AllowedValues.Between(0, 1)),
        [H.Momentum] = Hyperparameter.Real(0, AllowedValues.Between(0, 0.999)),
        [H.Nesterov] = Hyperparameter.Bool(false),
        [H.BatchSize] = Hyperparameter.Int(8, AllowedValues.OneOf(1, 2, 8, 16)),
        [H.Epochs] = Hyperparameter.Int(10, AllowedValues.OneOf(1, 10, 50)),
        [H.Shuffle] = Hyperparameter.Bool(true),
        [H.Seed] = Hyperparameter.Int(42, AllowedValues.Between(0, int.MaxValue)),
        [H.WeightDecay] = Hyperparameter.Real(0, AllowedValues.Between(0, 1)),
    };
}
