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
    /// <see cref="TrainingContext.Optimizer"/>'s parameters between epochs (or in <see cref="UpdateTask.TrainingBegan"/>,
    /// before the first); a learning rate it sets takes over from the schedule for the rest of the run.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Train only these of the model's updatable layers (<see cref="Spec.UpdateSpec.UpdatableLayers"/>, by
    /// name) in this run; the others stay frozen, and when they come first the cut moves after them (fewer layers run
    /// per step). The model keeps its update spec: a later training may train all of them again. A name that is not one
    /// of the model's updatable layers, or an empty list, is a <see cref="TailorException"/> naming the allowed ones.
    /// Default: all of them.</summary>
    public IReadOnlyList<string>? UpdatableLayers { get; init; }

    /// <summary>On-the-fly augmentation; each example gets <see cref="AugmentationOptions.VariantsPerExample"/>
    /// cached variants (variant 0 is the original), and every epoch visits all of them. Default: the model's
    /// <see cref="Spec.UpdateSpec.Augmentation"/>, or <see cref="AugmentationOptions.FewShot"/> when the model
    /// names none; <see cref="AugmentationOptions.None"/> switches it off.</summary>
    public AugmentationOptions? Augmentation { get; init; }

    /// <summary>The ONNX Runtime execution provider the frozen part (feature extraction) runs on: <c>cpu</c> (default),
    /// <c>cuda</c>, <c>directml</c>… (see <see cref="Onnx.ExecutionProviders"/>, which also says which package brings
    /// each). The trainable layers always train on Tailor's managed engine. A provider the installed ONNX Runtime lacks
    /// is a <see cref="TailorException"/> naming those it has, before any feature is computed.</summary>
    public string ExecutionProvider { get; init; } = Onnx.ExecutionProviders.Cpu;

    /// <summary>Write a checkpoint every N epochs (0: never; a cancelled task still writes one when a
    /// checkpoint path is set). Default 0.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where checkpoints go (one file, replaced atomically). Default: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>A checkpoint to continue from: same model, data and options give the same final weights
    /// as an uninterrupted run. Default: none.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Where the history (JSON, and CSV next to it) is saved after every epoch. Default: none.</summary>
    /// <remarks>A history saved here describes epochs whose model is not written yet (the task updates the model in
    /// memory; the caller saves it). A caller that wants the history beside a model to describe that model leaves this
    /// null and saves <see cref="TrainingResult.History"/> after the model, as <c>tailor train</c> does.</remarks>
    public string? HistoryPath { get; init; }

    /// <summary>With <see cref="ResumeFrom"/>: the history of the run the checkpoint continues. Its epochs up to the
    /// checkpoint's are kept (the instance is not changed) and the resumed epochs follow. Default: the history saved at
    /// <see cref="HistoryPath"/> when that file exists; else the result's history starts at the resumed epoch.</summary>
    public TrainingHistory? ResumeHistory { get; init; }

    /// <summary>With validation data, hand back the weights of the epoch with the lowest validation loss instead of
    /// the last epoch's (<see cref="TrainingResult.KeptEpoch"/> says which). The task keeps them in the same in-memory
    /// snapshot that cancellation restores, so it costs no second copy. Default (null):
    /// <see cref="TrainingDefaults.KeepBest"/> when there is validation data. True without
    /// validation data (no validation folder and no <see cref="ValidationSplit"/>) is an error.</summary>
    public bool? KeepBest { get; init; }

    /// <summary>Stop when the validation loss has not improved for this many epochs (the result says so in
    /// <see cref="TrainingResult.StoppedEarly"/> and <see cref="TrainingResult.Reason"/>); 0: never stop early.
    /// Needs validation data. Default <see cref="TrainingDefaults.Patience"/>.</summary>
    public int Patience { get; init; } = TrainingDefaults.Patience;

    /// <summary>Without a validation folder: hold out this fraction of each label's training examples (stratified;
    /// round(F·n) and at least one per label, chosen by the seed) and validate on them after every epoch. The split is
    /// by example before augmentation, so an example's augmented variants stay with it. 0 or a fraction in
    /// (0, <see cref="UpdateTask.MaxValidationSplit"/>]; a label that cannot spare one example is an error that names
    /// it. Default <see cref="TrainingDefaults.ValidationSplit"/>.</summary>
    public double ValidationSplit { get; init; } = TrainingDefaults.ValidationSplit;

    /// <summary>Skip examples that cannot be read (they are reported) instead of failing. Default false.</summary>
    public bool SkipBadExamples { get; init; }

    /// <summary>Train even when the data (and the replayed examples) lack labels the model was trained on
    /// (<see cref="Spec.UpdateSpec.TrainedExamples"/>): those labels keep their slots but are no longer learned, and
    /// drop out of the record. Default false: such data is refused before any work, naming the labels.</summary>
    public bool Forget { get; init; }

    /// <summary>Kept examples (written by a training with <see cref="KeepExamplesPath"/>) to train on beside the
    /// data, so a label can be added with only its own photos. They must match the model: the same cut of the same
    /// backbone, and the labels and counts it was last trained on. Default: none.</summary>
    public string? ReplayExamplesPath { get; init; }

    /// <summary>When kept examples are replayed, train from the model's initial weights (<see cref="Building.ModelBuilder.Reset"/>:
    /// a fresh classifier and the pretrained backbone layers) rather than from its trained ones. The kept examples and the
    /// data are everything the model was last trained on, so this gives the model one training on all of them gives,
    /// as Teachable Machine retrains; a second full run from trained weights overfits them instead. Measured on the hands
    /// photos with a 4th label (10 drawn stars) and the defaults: 14/15 old test photos before; 10/15 continuing with
    /// replay (11/15 continuing with the old photos given again); 14/15 starting over. Default true; when the base model of
    /// fine-tuned layers is not known (a model not prepared from the embedded ResNet18), training continues from the
    /// trained weights (<see cref="TrainingResult.StartedOver"/> says which).</summary>
    public bool StartOverWhenReplaying { get; init; } = true;

    /// <summary>Where to keep this training's examples (the cut features of every readable photo and replayed
    /// example, all augmented variants) when the weights are written, replaced atomically. Default: none.</summary>
    public string? KeepExamplesPath { get; init; }

    /// <summary>Where the feature cache lives.</summary>
    public FeatureCacheOptions Cache { get; init; } = new();
}
