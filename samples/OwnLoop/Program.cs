using Tailor;
using Tailor.Building;
using Tailor.Data;
using Tailor.Training;

// Usage: dotnet run -- TRAIN_DIR TEST_DIR OUTPUT.onnx   (each DIR holds one sub-folder of images per label)
string trainDir = args.Length > 0 ? args[0] : "../shared/datasets/hands/train";
string testDir = args.Length > 1 ? args[1] : "../shared/datasets/hands/test";
string outputPath = args.Length > 2 ? args[2] : "hands.onnx";

var model = ModelBuilder.Prepare(new PrepareOptions { Labels = ["✊", "✋", "✌️"], Capacity = 10 });

// The plan: settings (the model's defaults, 20 epochs), where the graph is cut, which labels take which slots.
using var plan = TrainingPlan.Create(model, LabeledFolder.Scan(trainDir), new TrainingOptions { Epochs = 20 }, LabeledFolder.Scan(testDir));
// The frozen backbone runs once per photo (and augmented copy); every epoch reads these cached features.
using TrainingData data = plan.ComputeFeatures();
using var session = new TrainingSession(plan);

int epochs = plan.Settings.Epochs;
for (int epoch = 0; epoch < epochs; epoch++)
{
    // Your own schedule: the base rate, then a tenth of it for the last quarter.
    session.LearningRate = epoch < epochs * 3 / 4 ? plan.Settings.LearningRate : plan.Settings.LearningRate / 10;
    double loss = 0;
    foreach (FeatureBatch batch in data.Train.Batches(plan.Settings.BatchSize, epoch))
        loss += session.TrainStep(batch).Loss * batch.Count;
    var (testLoss, testAccuracy) = session.Evaluate(data.Validation!)!.Value;
    Console.WriteLine($"epoch {epoch + 1}: loss {loss / data.Train.Count:F3}, test loss {testLoss:F3}, test accuracy {testAccuracy:P0}");
}

session.SaveCheckpoint(outputPath + ".ckpt", epochs);   // weights, optimizer state, settings: LoadCheckpoint resumes
UpdatableModel trained = session.ExportModel();        // the trained weights, the labels in their slots
trained.Save(outputPath);                              // standard ONNX: plain ONNX Runtime runs it
