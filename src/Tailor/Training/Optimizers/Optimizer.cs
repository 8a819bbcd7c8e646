using System.Text.Json.Nodes;

namespace Tailor.Training.Optimizers;

/// <summary>
/// Updates trainable parameters from their gradients. Subclasses (<see cref="Sgd"/>, <see cref="Adam"/>)
/// define the update rule; this base keeps the per-parameter state (moment buffers and step counts),
/// keyed by <see cref="ITrainableParameter.Name"/> and allocated the first time a parameter is seen, so
/// that once every parameter has been stepped once, <see cref="Step"/> allocates nothing.
/// </summary>
/// <remarks>
/// Hyperparameters are mutable so a training task's epoch-end handler can anneal them; a new value takes
/// effect at the next <see cref="Step"/>. State can be saved and restored (<see cref="SaveState"/>,
/// <see cref="LoadState"/>) so a run resumed from a checkpoint in a new process continues bit-identically.
/// An optimizer is not thread-safe. The update hooks are <c>private protected</c>: the set of optimizers is
/// closed to Tailor, because checkpoints must know every kind they may hold.
/// </remarks>
public abstract class Optimizer
{
    private readonly Dictionary<string, ParameterState> _state = new(StringComparer.Ordinal);
    private double _learningRate;
    private double _weightDecay;
    private long _stepCount;

    /// <param name="learningRate">The step size; finite and ≥ 0.</param>
    /// <param name="weightDecay">The L2 penalty coefficient; finite and ≥ 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the range stated.</exception>
    protected Optimizer(double learningRate, double weightDecay)
    {
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>A short lower-case name written into saved state and checkpoints: <c>sgd</c>, <c>adam</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>The step size η. Finite and ≥ 0; changeable between steps (annealing).</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, NaN or infinite.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set => _learningRate = Check.NonNegativeFinite(value, "learning rate", "learningRate");
    }

    /// <summary>The weight-decay coefficient λ. Finite and ≥ 0; 0 disables it. How it is applied (added to
    /// the gradient as an L2 penalty, or decoupled) is stated by each optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative, NaN or infinite.</exception>
    public double WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = Check.NonNegativeFinite(value, "weight decay", "weightDecay");
    }

    /// <summary>How many times <see cref="Step"/> has been called (restored by <see cref="LoadState"/>).</summary>
    public long StepCount => _stepCount;

    /// <summary>
    /// Applies one update to every parameter in <paramref name="parameters"/> from its current
    /// <see cref="ITrainableParameter.Gradient"/> (the mini-batch mean). Gradients are read, never modified.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentException">A parameter's value and gradient lengths differ, its length differs
    /// from the state kept under its name, or two parameters share a name.</exception>
    public void Step(IReadOnlyList<ITrainableParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        long stamp = _stepCount + 1;
        for (int i = 0; i < parameters.Count; i++)
        {
            ITrainableParameter p = parameters[i] ?? throw new ArgumentNullException(nameof(parameters), $"parameters[{i}] is null.");
            Span<float> value = p.Value;
            Span<float> gradient = p.Gradient;
            if (value.Length != gradient.Length)
                ThrowHelper.LengthMismatch(p.Name, value.Length, gradient.Length);
            ParameterState state = GetOrCreateState(p.Name, value.Length);
            if (state.LastStamp == stamp)
                ThrowHelper.DuplicateName(p.Name);
            state.LastStamp = stamp;
            state.Steps++;
            Update(value, gradient, state);
        }
        _stepCount = stamp;
    }

    /// <summary>Forgets all per-parameter state and the step count; hyperparameters are kept.</summary>
    public void Reset()
    {
        _state.Clear();
        _stepCount = 0;
    }

    /// <summary>Parameters of at least this many elements are updated on all cores, in blocks of <see cref="ParallelBlock"/>
    /// (the update of 512×512×3×3 weights reads and writes 66 MB with Adam: memory-bound, but one core does not use all
    /// the bandwidth).</summary>
    private protected const int ParallelLength = 1 << 18;

    /// <summary>Elements per block of a parallel update: a multiple of any vector width, so every element takes the
    /// vector or scalar path it takes in one sweep of the whole tensor.</summary>
    private protected const int ParallelBlock = 1 << 14;

    /// <summary>How many moment buffers (each as long as the parameter) the rule keeps per parameter.</summary>
    private protected abstract int BuffersPerParameter { get; }

    /// <summary>Updates one parameter in place. <paramref name="state"/>.Steps already counts this step.</summary>
    private protected abstract void Update(Span<float> value, ReadOnlySpan<float> gradient, ParameterState state);

    /// <summary>Writes the rule's own hyperparameters (besides learning rate and weight decay).</summary>
    private protected abstract void WriteHyperparameters(BinaryWriter writer);

    /// <summary>Reads what <see cref="WriteHyperparameters"/> wrote, validating through the setters.</summary>
    private protected abstract void ReadHyperparameters(BinaryReader reader);

    /// <summary>Adds the rule's own hyperparameters to a JSON description.</summary>
    private protected abstract void DescribeHyperparameters(JsonObject json);

    /// <summary>The hyperparameters as a JSON object (<c>{"optimizer":"adam","learningRate":0.001,…}</c>),
    /// for checkpoints and logs.</summary>
    public JsonObject DescribeHyperparameters()
    {
        var json = new JsonObject
        {
            ["optimizer"] = Kind,
            ["learningRate"] = LearningRate,
            ["weightDecay"] = WeightDecay,
        };
        DescribeHyperparameters(json);
        return json;
    }

    private const int StateFormatVersion = 1;

    /// <summary>
    /// Writes the complete optimizer state: kind, format version, hyperparameters, step count, and for each
    /// parameter (in ordinal name order, so equal states give equal bytes) its name, step count and moment
    /// buffers as little-endian floats.
    /// </summary>
    public void SaveState(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(Kind);
        writer.Write(StateFormatVersion);
        writer.Write(LearningRate);
        writer.Write(WeightDecay);
        WriteHyperparameters(writer);
        writer.Write(_stepCount);
        writer.Write(_state.Count);
        writer.Write(BuffersPerParameter);
        foreach (string name in _state.Keys.Order(StringComparer.Ordinal))
        {
            ParameterState s = _state[name];
            writer.Write(name);
            writer.Write(s.Steps);
            writer.Write(s.Length);
            foreach (float[] buffer in s.Buffers)
                BinaryFloats.Write(writer, buffer);
        }
    }

    /// <summary>
    /// Replaces this optimizer's state and hyperparameters with those written by <see cref="SaveState"/>
    /// on an optimizer of the same <see cref="Kind"/>. Parameters are matched by name at the next
    /// <see cref="Step"/>. On failure the optimizer is left unchanged.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is for another optimizer kind or format version, or is
    /// inconsistent (negative counts, hyperparameters out of range).</exception>
    /// <exception cref="EndOfStreamException">The data ends early.</exception>
    public void LoadState(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string kind = reader.ReadString();
        if (kind != Kind)
            throw new InvalidDataException($"The optimizer state is for '{kind}', but this optimizer is '{Kind}'.");
        int version = reader.ReadInt32();
        if (version != StateFormatVersion)
            throw new InvalidDataException($"The optimizer state has format version {version}; this version of Tailor reads version {StateFormatVersion}.");

        // Read everything into locals first so that a failure leaves this optimizer as it was.
        Optimizer staging = CreateBlank();
        try
        {
            staging.LearningRate = reader.ReadDouble();
            staging.WeightDecay = reader.ReadDouble();
            staging.ReadHyperparameters(reader);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"The optimizer state holds an invalid hyperparameter: {e.Message}", e);
        }
        long stepCount = reader.ReadInt64();
        int count = reader.ReadInt32();
        int buffers = reader.ReadInt32();
        if (stepCount < 0 || count < 0 || buffers != BuffersPerParameter)
            throw new InvalidDataException($"The optimizer state is inconsistent (step count {stepCount}, {count} parameters, {buffers} buffers per parameter; '{Kind}' keeps {BuffersPerParameter}).");
        var state = new Dictionary<string, ParameterState>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            long steps = reader.ReadInt64();
            int length = reader.ReadInt32();
            if (steps < 0 || length < 0)
                throw new InvalidDataException($"The optimizer state for parameter '{name}' is inconsistent (steps {steps}, length {length}).");
            var s = new ParameterState(length, buffers) { Steps = steps };
            foreach (float[] buffer in s.Buffers)
                BinaryFloats.Read(reader, buffer);
            if (!state.TryAdd(name, s))
                throw new InvalidDataException($"The optimizer state lists parameter '{name}' twice.");
        }

        LearningRate = staging.LearningRate;
        WeightDecay = staging.WeightDecay;
        CopyHyperparametersFrom(staging);
        _stepCount = stepCount;
        _state.Clear();
        foreach (var (name, s) in state)
        {
            s.LastStamp = 0;
            _state.Add(name, s);
        }
    }

    /// <summary>A fresh optimizer of the same kind, used to stage a load.</summary>
    private protected abstract Optimizer CreateBlank();

    /// <summary>Copies the rule's own hyperparameters from a staged optimizer of the same kind.</summary>
    private protected abstract void CopyHyperparametersFrom(Optimizer other);

    private ParameterState GetOrCreateState(string name, int length)
    {
        if (_state.TryGetValue(name, out ParameterState? s))
        {
            if (s.Length != length)
                ThrowHelper.StateLengthMismatch(name, s.Length, length);
            return s;
        }
        s = new ParameterState(length, BuffersPerParameter);
        _state.Add(name, s);
        return s;
    }

    /// <summary>One parameter's optimizer state.</summary>
    private protected sealed class ParameterState
    {
        public ParameterState(int length, int bufferCount)
        {
            Length = length;
            Buffers = new float[bufferCount][];
            for (int i = 0; i < bufferCount; i++)
                Buffers[i] = new float[length];
        }

        public int Length { get; }

        /// <summary>Moment buffers, each <see cref="Length"/> long, zero until first used.</summary>
        public float[][] Buffers { get; }

        /// <summary>Updates applied to this parameter, counting the current one (Adam's bias correction uses it).</summary>
        public long Steps { get; set; }

        /// <summary>The optimizer step that last touched this state; detects two parameters with one name.</summary>
        public long LastStamp { get; set; }
    }

    private static class ThrowHelper
    {
        public static void LengthMismatch(string name, int value, int gradient) =>
            throw new ArgumentException($"Parameter '{name}' has {value} values but {gradient} gradient entries; they must be equal.", "parameters");

        public static void StateLengthMismatch(string name, int state, int length) =>
            throw new ArgumentException($"Parameter '{name}' has {length} values, but the optimizer's state for that name has {state}; a parameter's size cannot change between steps (call Reset to start over).", "parameters");

        public static void DuplicateName(string name) =>
            throw new ArgumentException($"Two parameters are named '{name}'; names must be unique because the optimizer keeps state by name.", "parameters");
    }
}

/// <summary>Argument checks that name the value and what is allowed.</summary>
internal static class Check
{
    public static double NonNegativeFinite(double value, string what, string paramName)
    {
        if (!(value >= 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(paramName, $"{what} must be finite and ≥ 0; got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        return value;
    }

    public static double Positive(double value, string what, string paramName)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(paramName, $"{what} must be finite and > 0; got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        return value;
    }

    /// <summary>0 ≤ value &lt; 1.</summary>
    public static double UnitHalfOpen(double value, string what, string paramName)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(paramName, $"{what} must be in [0, 1); got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}.");
        return value;
    }
}

/// <summary>Float arrays as raw little-endian bytes, without a per-element call.</summary>
internal static class BinaryFloats
{
    public static void Write(BinaryWriter writer, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        foreach (float v in values)
            writer.Write(v);
    }

    public static void Read(BinaryReader reader, Span<float> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            Span<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(destination);
            while (bytes.Length > 0)
            {
                int n = reader.Read(bytes);
                if (n == 0)
                    throw new EndOfStreamException("The data ends in the middle of a float array.");
                bytes = bytes[n..];
            }
            return;
        }
        for (int i = 0; i < destination.Length; i++)
            destination[i] = reader.ReadSingle();
    }
}
