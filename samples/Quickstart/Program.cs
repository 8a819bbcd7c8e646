using Tailor.Building;
using Tailor.Data;
using Tailor.Prediction;
using Tailor.Training;

// Usage: dotnet run -- TRAIN_DIR TEST_DIR OUTPUT.onnx   (each DIR holds one sub-folder of images per label)
string trainDir = args.Length > 0 ? args[0] : "../shared/datasets/hands/train";
string testDir = args.Length > 1 ? args[1] : "../shared/datasets/hands/test";
string outputPath = args.Length > 2 ? args[2] : "hands.onnx";
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };   // Ctrl+C keeps the last epoch

// An updatable classifier on the embedded ResNet18: three labels and seven free slots.
var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });

// Train on DIR/<label>/<images>; validate after every epoch.
var task = new UpdateTask(model, LabeledFolder.Scan(trainDir), LabeledFolder.Scan(testDir));
task.EpochEnded += (_, e) => Console.WriteLine($"epoch {e.Epoch}: loss {e.TrainLossMean:F3}, validation accuracy {e.ValidationAccuracy:P0}");
TrainingResult result = await task.RunAsync(cancel.Token);
Console.WriteLine($"{result.State} after {result.EpochsCompleted} epochs");
model.Save(outputPath);   // standard ONNX: plain ONNX Runtime runs it, no Tailor needed

// Predict and evaluate with the trained weights.
using var predictor = new Predictor(model);
EvaluationReport report = Evaluator.Evaluate(predictor, LabeledFolder.Scan(testDir));
foreach (var example in LabeledFolder.Scan(testDir).Examples.Take(3))
{
    var answer = predictor.Predict(example.Path);
    Console.WriteLine($"{Path.GetFileName(example.Path)} ({example.Label}): {answer.Label} ({answer.Probability:P0})");
}
Console.WriteLine($"test accuracy {report.Accuracy:P0} ({report.Correct}/{report.Count})");
