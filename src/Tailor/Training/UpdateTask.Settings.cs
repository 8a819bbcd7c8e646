using Tailor.Training.Optimizers;

namespace Tailor.Training;

public sealed partial class UpdateTask
{
    /// <summary>The parameters and optimizer state at the end of the last completed epoch, kept in memory
    /// so that a cancelled or diverged run hands back (and checkpoints) that epoch's weights exactly.</summary>
    private sealed class Snapshot
    {
        private readonly float[][] _values;
        // One stream for the whole task, rewritten in place each epoch: the optimizer state of a fine-tuned
        // convolution is tens of MB, and a new buffer per epoch left that much garbage on the large-object heap
        // every epoch (the process grew by ~55 MB per epoch until a full collection).
        private readonly MemoryStream _optimizerState = new();

        public Snapshot(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            _values = parameters.Select(p => new float[p.Value.Length]).ToArray();
            Capture(parameters, optimizer);
        }

        public void Capture(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            for (int i = 0; i < parameters.Count; i++) parameters[i].Value.CopyTo(_values[i]);
            _optimizerState.Position = 0;
            _optimizerState.SetLength(0);
            using var writer = new BinaryWriter(_optimizerState, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.SaveState(writer);
        }

        public void Restore(IReadOnlyList<ITrainableParameter> parameters, Optimizer optimizer)
        {
            for (int i = 0; i < parameters.Count; i++) _values[i].CopyTo(parameters[i].Value);
            _optimizerState.Position = 0;
            using var reader = new BinaryReader(_optimizerState, System.Text.Encoding.UTF8, leaveOpen: true);
            optimizer.LoadState(reader);
        }
    }
}
