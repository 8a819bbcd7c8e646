using Tailor.Engine;
using Tailor.Onnx;
using Tailor.Training.Optimizers;

namespace Tailor.Training;

/// <summary>The mean loss of a mini-batch and how many of its examples the model classified correctly.</summary>
/// <param name="Loss">The batch-mean loss (NaN or infinite when training diverged).</param>
/// <param name="Correct">Examples whose highest-scoring slot is their label's.</param>
/// <param name="Count">Examples in the batch.</param>
public readonly record struct StepResult(double Loss, int Correct, int Count)
{
    /// <summary><see cref="Correct"/> / <see cref="Count"/>.</summary>
    public double Accuracy => Count == 0 ? 0 : Correct / (double)Count;
}

/// <summary>
/// The trainable suffix of a planned training, ready to step: the suffix graph (Tailor's engine), the loss, the
/// parameters and the optimizer, as ONNX Runtime's training <c>Module</c> had. <see cref="TrainStep"/> runs forward,
/// the loss, backward and one optimizer update on a <see cref="FeatureBatch"/>; <see cref="EvalStep"/> only measures;
/// <see cref="SaveCheckpoint"/>/<see cref="LoadCheckpoint"/> keep and restore the weights, the optimizer state and the
/// settings; <see cref="ExportModel"/> gives the model with the trained weights. <see cref="UpdateTask"/> is an epoch
/// loop over this; an app can write its own.
/// </summary>
/// <remarks>A step at a batch size already seen allocates nothing. Not thread-safe.</remarks>
public sealed class TrainingSession : IDisposable
{
    private readonly TrainingPlan? _plan;
    private SuffixGraph? _graph;
    private readonly TrainingLoss _loss;
    private readonly int _capacity;
    private float[] _targets = [];
    private readonly ITrainableParameter[] _parameters;

    /// <summary>Builds the suffix graph of <paramref name="plan"/>'s model from its current weights, and a fresh
    /// optimizer with the plan's settings.</summary>
    /// <exception cref="TailorException">An op after the cut that the engine cannot run or train (the message names it).</exception>
    public TrainingSession(TrainingPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _plan = plan;
        var model = plan.Working;
        var spec = model.Spec;
        _loss = new TrainingLoss(spec);
        var cut = plan.Cut;
        var trainable = spec.UpdatableLayers.SelectMany(l => l.Parameters).ToList();
        var shapes = cut.CutTensors.Select((t, i) => (t, plan.CutShapes[i])).ToDictionary(p => p.t, p => p.Item2);
        _graph = SuffixGraph.Build(model.Proto.Graph, cut.CutTensors, _loss.Outputs, trainable.ToHashSet(), model.Proto.Opset(), shapes, plan.Settings.Seed);
        _parameters = [.. trainable.Select(p => _graph.Parameters[p])];
        _capacity = spec.Labels.Capacity;
        Settings = plan.Settings;
        Optimizer = plan.Settings.CreateOptimizer();
    }

    /// <summary>A session over a graph built by hand (benchmarks of the engine's step on synthetic graphs).</summary>
    internal TrainingSession(SuffixGraph graph, TrainingLoss loss, Optimizer optimizer, int capacity, TrainingSettings settings)
    {
        _graph = graph;
        _loss = loss;
        _parameters = [.. graph.Parameters.Values];
        _capacity = capacity;
        Settings = settings;
        Optimizer = optimizer;
    }

    /// <summary>The settings the session was created with (its optimizer's may have changed since: see <see cref="Optimizer"/>).</summary>
    public TrainingSettings Settings { get; }

    /// <summary>The optimizer: its learning rate and other hyperparameters may be changed between steps.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The optimizer's learning rate, changeable between steps.</summary>
    public double LearningRate
    {
        get => Optimizer.LearningRate;
        set => Optimizer.LearningRate = value;
    }

    /// <summary>The trainable parameters (read them; the optimizer writes them), in the order of the update spec's layers.</summary>
    public IReadOnlyList<ITrainableParameter> Parameters => _parameters;

    private SuffixGraph Graph => _graph ?? throw new ObjectDisposedException(nameof(TrainingSession));

    /// <summary>Forward, loss, backward and one optimizer update on <paramref name="batch"/>. When the loss is NaN or
    /// infinite (training diverged) no update is applied; the result says so.</summary>
    /// <exception cref="TailorException">The batch does not fit the graph (a set from another plan).</exception>
    public StepResult TrainStep(FeatureBatch batch)
    {
        var result = Run(batch, training: true);
        if (double.IsFinite(result.Loss)) Optimizer.Step(_parameters);
        return result;
    }

    /// <summary>Forward and loss on <paramref name="batch"/> with the current weights; nothing changes.</summary>
    public StepResult EvalStep(FeatureBatch batch) => Run(batch, training: false);

    /// <summary>Loss and accuracy over every row of <paramref name="set"/>, in batches of the settings' batch size (at
    /// most <paramref name="batchSize"/> when given). Null for an empty set.</summary>
    public (double Loss, double Accuracy)? Evaluate(FeatureSet set, int? batchSize = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        if (set.Count == 0) return null;
        double loss = 0;
        int correct = 0;
        foreach (var batch in set.Batches(batchSize ?? Settings.BatchSize))
        {
            var r = EvalStep(batch);
            loss += r.Loss * r.Count;
            correct += r.Correct;
        }
        return (loss / set.Count, correct / (double)set.Count);
    }

    private StepResult Run(FeatureBatch batch, bool training)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var graph = Graph;
        int count = batch.Count;
        batch.WriteInputs(graph);
        var labels = batch.Labels;
        ReadOnlyMemory<float> targets = default;
        if (_loss.NeedsOneHot)
        {
            if (_targets.Length < count * _capacity) _targets = new float[count * _capacity];
            var t = _targets.AsSpan(0, count * _capacity);
            t.Clear();
            var slots = labels.Span;
            for (int i = 0; i < count; i++) t[i * _capacity + slots[i]] = 1f;
            targets = _targets.AsMemory(0, count * _capacity);
        }
        if (training) graph.ZeroGradients();
        graph.Forward(training);
        var result = _loss.Evaluate(graph, labels, targets, seedGradient: training);
        if (training && double.IsFinite(result.Value)) graph.Backward();
        return new StepResult(result.Value, result.Correct ?? 0, count);
    }

    /// <summary>Writes the parameters, the optimizer state and the settings to <paramref name="path"/> atomically.</summary>
    /// <param name="path">The destination; its folder must exist.</param>
    /// <param name="epochsCompleted">Epochs completed, recorded for <see cref="LoadCheckpoint"/>'s caller.</param>
    /// <exception cref="TailorException">The file cannot be written.</exception>
    public void SaveCheckpoint(string path, int epochsCompleted = 0) =>
        Checkpoint.Write(path, epochsCompleted, Settings.Seed, _parameters, Optimizer, Settings.ToJson());

    /// <summary>
    /// Restores the parameters and the optimizer state (its hyperparameters included) from a checkpoint written with
    /// the same settings (the number of epochs may differ), and returns the epochs it records as completed.
    /// Checkpoints of older versions, which record only the seed, are checked on the seed alone.
    /// </summary>
    /// <exception cref="TailorException">The file is missing or damaged; it was written with other settings (each one
    /// that differs is named with both values); its parameters or optimizer do not match this model's. Nothing
    /// changes then.</exception>
    public int LoadCheckpoint(string path)
    {
        var checkpoint = Checkpoint.Read(path);
        var differences = checkpoint.Hyperparameters["training"] is System.Text.Json.Nodes.JsonObject recorded
            ? Settings.DifferencesFrom(recorded)
            : checkpoint.ShuffleSeed != Settings.Seed ? [$"seed {checkpoint.ShuffleSeed} (this run: {Settings.Seed})"] : [];
        if (differences.Count > 0)
            throw new TailorException($"The checkpoint '{path}' was written with other training settings: {string.Join(", ", differences)}. " +
                "Resume with the checkpoint's settings.");
        checkpoint.RestoreInto(_parameters, Optimizer);
        return checkpoint.EpochsCompleted;
    }

    /// <summary>
    /// A copy of the planned model with the current weights and the plan's slot assignment (new labels in their slots,
    /// slots without examples masked): standard ONNX that ONNX Runtime runs. The plan's model is not changed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session was made over a hand-built graph, not a plan.</exception>
    public UpdatableModel ExportModel()
    {
        var plan = _plan ?? throw new InvalidOperationException("This session has no model to export: it was not made from a TrainingPlan.");
        var copy = plan.Working.Clone();
        foreach (var p in _parameters) copy.SetParameter(p.Name, p.Value);
        // A run that trained some of the updatable layers (TrainingOptions.UpdatableLayers) leaves the model's list as it was.
        if (plan.Options.UpdatableLayers is not null) copy.SetSpec(copy.Spec with { UpdatableLayers = plan.Model.Spec.UpdatableLayers });
        return copy;
    }

    /// <summary>Releases the graph's buffers (activations, gradients and convolution columns: over 100 MB when
    /// fine-tuning the default layers).</summary>
    public void Dispose() => _graph = null;
}
