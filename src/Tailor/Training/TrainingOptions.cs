using Tailor.Features;
using Tailor.Images;
using Tailor.Training.Schedules;

namespace Tailor.Training;

/// <summary>
/// Options of an <see cref="UpdateTask"/>. A null hyperparameter means "the model's default" (from its
/// update spec); every value given is checked against the model's allowed values before training starts.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training set. Default: the model's <c>epochs</c>.</summary>
    public int? Epochs { get; init; }

    /// <summary>Default: the model's <c>learning_rate</c>.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Examples per mini-batch; the last batch of an epoch holds the remainder (it is smaller, not
    /// dropped or padded). Default: the model's <c>batch_size</c>.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Reorder the examples every epoch (the order of epoch e depends only on (seed, e)). Default: the model's <c>shuffle</c>.</summary>
    public bool? Shuffle { get; init; }

    /// <summary>Seed for shuffling, augmentation and dropout. Default: the model's <c>seed</c>.</summary>
    public int? Seed { get; init; }

    /// <summary>SGD momentum. Default: the model's <c>momentum</c>.</summary>
    public double? Momentum { get; init; }

    /// <summary>SGD Nesterov momentum. Default: the model's <c>nesterov</c>.</summary>
    public bool? Nesterov { get; init; }

    /// <summary>Adam beta1 / beta2 / epsilon. Default: the model's.</summary>
    public double? Beta1 { get; init; }
    public double? Beta2 { get; init; }
    public double? Epsilon { get; init; }

    /// <summary>L2 weight decay (added to the gradient as λ·w). Default: the model's <c>weight_decay</c>.</summary>
    public double? WeightDecay { get; init; }

    /// <summary>Learning rate per epoch from the base rate. Default: the model's
    /// <see cref="Spec.UpdateSpec.LearningRateSchedule"/> over this run's epochs (cosine for a model prepared
    /// with the defaults), or constant when the model names none. An event handler may also change
    /// <see cref="TrainingContext.Optimizer"/>'s parameters between epochs; a learning rate it sets takes
    /// over from the schedule for the rest of the run.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>On-the-fly augmentation; each example gets <see cref="AugmentationOptions.VariantsPerExample"/>
    /// cached variants (variant 0 is the original), and every epoch visits all of them. Default: the model's
    /// <see cref="Spec.UpdateSpec.Augmentation"/>, or <see cref="AugmentationOptions.FewShot"/> when the model
    /// names none; <see cref="AugmentationOptions.None"/> switches it off.</summary>
    public AugmentationOptions? Augmentation { get; init; }

    /// <summary>Write a checkpoint every N epochs (0: never; a cancelled task still writes one when a
    /// checkpoint path is set). Default 0.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where checkpoints go (one file, replaced atomically). Default: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>A checkpoint to continue from: same model, data and options give the same final weights
    /// as an uninterrupted run. Default: none.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Where the history (JSON, and CSV next to it) is saved after every epoch. Default: none.</summary>
    public string? HistoryPath { get; init; }

    /// <summary>Skip examples that cannot be read (they are reported) instead of failing. Default false.</summary>
    public bool SkipBadExamples { get; init; }

    /// <summary>Where the feature cache lives.</summary>
    public FeatureCacheOptions Cache { get; init; } = new();
}
