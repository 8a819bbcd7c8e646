using System.Numerics;
using System.Numerics.Tensors;
using System.Text;

namespace Tailor.Heads;

/// <summary>Settings of <see cref="LogisticRegression.Train(ReadOnlySpan{float}, ReadOnlySpan{int}, int, LogisticRegressionOptions?, CancellationToken)"/>.
/// Immutable; every value has a documented default.</summary>
public sealed record LogisticRegressionOptions
{
    /// <summary>L2 strength λ in the objective (mean cross-entropy + λ/2·‖W‖²; the bias is not penalized).
    /// Default <see cref="TrainingDefaults.LogisticRegressionL2"/> (measured there); allowed ≥ 0 (0 only if the classes are
    /// not separable). There is deliberately no L1 term: DESIGN.md measured that ML.NET's default L1 hurts on few-shot features.</summary>
    public double L2 { get; init; } = TrainingDefaults.LogisticRegressionL2;

    /// <summary>Divide each feature vector by its L2 norm before training and prediction (a zero vector stays
    /// zero). Default true (DESIGN.md: it helped on ResNet18 features). Recorded in the model so prediction
    /// does the same.</summary>
    public bool NormalizeFeatures { get; init; } = TrainingDefaults.NormalizeFeatures;

    /// <summary>Most L-BFGS iterations. Default <see cref="TrainingDefaults.LbfgsMaxIterations"/>.</summary>
    public int MaxIterations { get; init; } = TrainingDefaults.LbfgsMaxIterations;

    /// <summary>Stop when the gradient norm of the objective is ≤ this × its norm at the start (W = 0, b = 0),
    /// so the test does not depend on the scale of the features. Default 1e-5.</summary>
    public double GradientTolerance { get; init; } = 1e-5;

    /// <summary>Stop when an iteration lowers the objective by ≤ this × max(1, |f|). Default 1e-10.</summary>
    public double FunctionTolerance { get; init; } = 1e-10;

    /// <summary>L-BFGS history m. Default 10.</summary>
    public int HistorySize { get; init; } = 10;

    /// <summary>Compute the objective in double when n·C·D ≤ this, else in float (half the memory traffic, about
    /// twice as fast, but f is then accurate to ~1e-7 relative and the gradient norm cannot go much below
    /// ~1e-6 of its start). Default 2²² (the hands set, 30×512×3, runs in double; 10k×512×10 in float).</summary>
    public long DoublePrecisionThreshold { get; init; } = 1 << 22;

    /// <summary>Split the objective over all cores when n·C·D ≥ this (below it threads cost more than they
    /// save). Default 2¹⁸. The result does not depend on the number of cores.</summary>
    public long ParallelThreshold { get; init; } = 1 << 18;
}

/// <summary>One candidate of <see cref="LogisticRegression.CrossValidateL2"/>: mean held-out cross-entropy and accuracy.</summary>
public sealed record L2Score(double L2, double CrossEntropy, double Accuracy);

/// <summary>What <see cref="LogisticRegression.CrossValidateL2"/> chose, over how many folds, and every candidate's score.</summary>
public sealed record L2Selection(double Chosen, int Folds, IReadOnlyList<L2Score> Scores);

/// <summary>How training ended.</summary>
/// <param name="Converged">Whether a tolerance was met; if not, the model holds the best iterate found.</param>
/// <param name="Iterations">L-BFGS iterations.</param>
/// <param name="Evaluations">Objective evaluations.</param>
/// <param name="Loss">Final objective: mean cross-entropy + λ/2·‖W‖².</param>
/// <param name="GradientNorm">‖∇‖₂ of the objective at the result.</param>
/// <param name="Message">Why it stopped.</param>
public sealed record LogisticRegressionTraining(bool Converged, int Iterations, int Evaluations, double Loss, double GradientNorm, string Message);

/// <summary>
/// A trained multinomial logistic-regression head: logits z = W·x̃ + b, probabilities softmax(z), where
/// x̃ = x/‖x‖ if <see cref="NormalizeFeatures"/> else x.
/// </summary>
/// <remarks><see cref="Weights"/> [C, D] row-major and <see cref="Bias"/> [C] have the layout of a
/// fully-connected layer, ONNX <c>Gemm(x, W, b, transB = 1)</c>, so they can be copied into the neural-network
/// head and training continued by SGD/Adam; when <see cref="NormalizeFeatures"/> is true that head must
/// L2-normalize its input too. A class with no training examples gets a zero weight row and bias
/// <see cref="LogisticRegression.AbsentClassBias"/>.</remarks>
public sealed class LogisticRegressionModel
{
    internal LogisticRegressionModel(int classCount, int dimension, float[] weights, float[] bias, bool normalize,
        LogisticRegressionTraining training)
    {
        ClassCount = classCount;
        Dimension = dimension;
        Weights = weights;
        Bias = bias;
        NormalizeFeatures = normalize;
        Training = training;
    }

    /// <summary>Number of classes C.</summary>
    public int ClassCount { get; }

    /// <summary>Feature length D.</summary>
    public int Dimension { get; }

    /// <summary>W, [C, D] row-major (Gemm transB = 1 layout).</summary>
    public float[] Weights { get; }

    /// <summary>b, [C].</summary>
    public float[] Bias { get; }

    /// <summary>Whether features are L2-normalized before W is applied.</summary>
    public bool NormalizeFeatures { get; }

    /// <summary>How training ended.</summary>
    public LogisticRegressionTraining Training { get; }

    /// <summary>Writes the C class probabilities of <paramref name="feature"/> into <paramref name="probabilities"/>.</summary>
    /// <exception cref="TailorException">Wrong feature length or destination length.</exception>
    public void PredictProbabilities(ReadOnlySpan<float> feature, Span<float> probabilities)
    {
        if (feature.Length != Dimension)
            throw new TailorException($"The logistic regression expects features of length {Dimension}, but got length {feature.Length}.");
        if (probabilities.Length != ClassCount)
            throw new TailorException($"The probabilities destination has length {probabilities.Length}; it must have length {ClassCount}.");
        float scale = NormalizeFeatures ? LogisticRegression.InverseNorm(feature) : 1f;
        for (int c = 0; c < ClassCount; c++)
            probabilities[c] = scale * TensorPrimitives.Dot(feature, Weights.AsSpan(c * Dimension, Dimension)) + Bias[c];
        TensorPrimitives.SoftMax(probabilities, probabilities);
    }

    /// <summary>The C class probabilities of <paramref name="feature"/>.</summary>
    public float[] PredictProbabilities(ReadOnlySpan<float> feature)
    {
        float[] p = new float[ClassCount];
        PredictProbabilities(feature, p);
        return p;
    }

    /// <summary>The most probable class (ties: the lowest index).</summary>
    public int Predict(ReadOnlySpan<float> feature) => TensorPrimitives.IndexOfMax(PredictProbabilities(feature));
}

/// <summary>
/// Multinomial logistic regression trained by L-BFGS (as Turi Create and Create ML do) on cached features.
/// </summary>
/// <remarks>
/// Minimizes f(W, b) = (1/n)·Σᵢ [log Σ_c exp(z_ic) − z_{i,yᵢ}] + (λ/2)·‖W‖², z_i = W·x̃ᵢ + b, with gradient
/// ∇_W = (1/n)·Σᵢ (pᵢ − e_{yᵢ}) x̃ᵢᵀ + λW and ∇_b = (1/n)·Σᵢ (pᵢ − e_{yᵢ}). The bias is not penalized; since
/// adding a constant to every bias changes nothing, the solution is fixed by Σ_c b_c = 0 (L-BFGS from b = 0
/// stays there; the result is re-centered). Logits and gradients are computed in float with SIMD dot products
/// and axpys, accumulated per fixed block of examples and summed in double in block order, so the result is
/// deterministic and independent of the number of cores.
/// </remarks>
public static class LogisticRegression
{
    /// <summary>Bias given to a class without training examples (its weight row is zero): e^−20 ≈ 2e-9 relative
    /// probability. Left finite so later SGD/Adam training of that class can start.</summary>
    public const float AbsentClassBias = -20f;

    private const int BlockSize = 256;

    /// <summary>Trains on n examples stored row-major in <paramref name="features"/> (length n·D) with class
    /// indices <paramref name="labels"/> (length n, each in [0, <paramref name="classCount"/>)).</summary>
    /// <exception cref="TailorException">No examples; lengths that do not fit; a label outside [0, C); a
    /// non-finite feature; an option outside its allowed values.</exception>
    public static LogisticRegressionModel Train(ReadOnlySpan<float> features, ReadOnlySpan<int> labels, int classCount,
        LogisticRegressionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LogisticRegressionOptions();
        int n = labels.Length;
        if (n == 0)
            throw new TailorException("Logistic regression needs at least one training example; none were given.");
        if (features.Length == 0 || features.Length % n != 0)
            throw new TailorException($"{features.Length} feature values do not divide into {n} examples of equal length.");
        if (classCount < 1)
            throw new TailorException($"The class count {classCount} is not allowed; it must be at least 1.");
        if (!(options.L2 >= 0) || double.IsInfinity(options.L2))
            throw new TailorException($"The L2 strength {options.L2} is not allowed; it must be a finite number ≥ 0.");
        int d = features.Length / n;

        // Compact the classes that have examples; the others are fixed (absent).
        int[] compactOf = new int[classCount];
        Array.Fill(compactOf, -1);
        var present = new List<int>();
        int[] y = new int[n];
        for (int i = 0; i < n; i++)
        {
            int label = labels[i];
            if ((uint)label >= (uint)classCount)
                throw new TailorException($"Example {i} has class {label}; classes must be in [0, {classCount - 1}].");
            if (compactOf[label] < 0)
            {
                compactOf[label] = present.Count;
                present.Add(label);
            }
            y[i] = compactOf[label];
        }

        for (int i = 0; i < features.Length; i++)
            if (!float.IsFinite(features[i]))
                throw new TailorException($"Feature {i % d} of example {i / d} is {features[i]}; features must be finite.");

        int cp = present.Count;
        long work = (long)n * cp * d;
        bool parallel = work >= options.ParallelThreshold;
        DifferentiableFunction objective = work <= options.DoublePrecisionThreshold
            ? new SoftmaxObjective<double>(Prepare<double>(features, n, d, options.NormalizeFeatures), y, n, d, cp, options.L2, parallel).Evaluate
            : new SoftmaxObjective<float>(Prepare<float>(features, n, d, options.NormalizeFeatures), y, n, d, cp, options.L2, parallel).Evaluate;
        bool inFloat = work > options.DoublePrecisionThreshold;
        double[] theta = new double[cp * d + cp];
        LogisticRegressionTraining training;
        if (cp < 2)
        {
            training = new LogisticRegressionTraining(true, 0, 0, 0, 0, "converged: only one class has examples, so it always wins");
        }
        else
        {
            var result = Lbfgs.Minimize(objective, theta, new LbfgsOptions
            {
                HistorySize = options.HistorySize,
                MaxIterations = options.MaxIterations,
                GradientTolerance = 0,
                RelativeGradientTolerance = options.GradientTolerance,
                FunctionTolerance = options.FunctionTolerance,
                FunctionNoise = inFloat ? 1e-6 : 1e-12,
            }, cancellationToken);
            theta = result.Minimizer;
            training = new LogisticRegressionTraining(result.Converged, result.Iterations, result.Evaluations,
                result.Value, result.GradientNorm, result.Message);
        }

        // Expand to all classes in the Gemm (transB = 1) layout; re-center the bias (Σ b = 0 over trained classes).
        float[] weights = new float[classCount * d];
        float[] bias = new float[classCount];
        Array.Fill(bias, AbsentClassBias);
        double meanBias = 0;
        for (int c = 0; c < cp; c++) meanBias += theta[cp * d + c] / cp;
        for (int c = 0; c < cp; c++)
        {
            int target = present[c];
            for (int j = 0; j < d; j++)
                weights[target * d + j] = (float)theta[c * d + j];
            bias[target] = (float)(theta[cp * d + c] - meanBias);
        }
        return new LogisticRegressionModel(classCount, d, weights, bias, options.NormalizeFeatures, training);
    }

    /// <summary>The L2 strengths <see cref="CrossValidateL2"/> tries when given none: 10⁻⁴ to 10⁻¹ in half-decade steps.</summary>
    public static IReadOnlyList<double> DefaultL2Candidates { get; } = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1];

    /// <summary>
    /// Picks the L2 strength by stratified k-fold cross-validation: every example (with its
    /// <paramref name="rowsPerExample"/> augmented rows, which stay in its fold) is held out once. Each candidate is
    /// trained on the other folds and scored by the mean cross-entropy on the held-out examples' first rows (the
    /// photos as they are). The lowest mean wins; a tie goes to the stronger λ. Folds go round-robin through each
    /// class's examples in order, so the choice is deterministic.
    /// </summary>
    /// <remarks><paramref name="features"/> holds rows of length D, <paramref name="rowsPerExample"/> consecutive rows per
    /// example; <paramref name="labels"/> the class of each row. At most <paramref name="folds"/> folds (default 5), fewer
    /// when a class has fewer examples. <paramref name="options"/> apply to every fit (their L2 is replaced).</remarks>
    /// <exception cref="TailorException">No candidates, a candidate that is not a finite number ≥ 0, rows that do not
    /// group into examples, or a class with fewer than two examples (nothing to hold out), which it names (by
    /// <paramref name="classNames"/> when given).</exception>
    public static L2Selection CrossValidateL2(ReadOnlySpan<float> features, ReadOnlySpan<int> labels, int classCount,
        IReadOnlyList<double>? candidates = null, int rowsPerExample = 1, int folds = 5, LogisticRegressionOptions? options = null,
        IReadOnlyList<string>? classNames = null, CancellationToken cancellationToken = default)
    {
        candidates ??= DefaultL2Candidates;
        options ??= new LogisticRegressionOptions();
        if (candidates.Count == 0)
            throw new TailorException("Cross-validating the L2 strength needs at least one candidate.");
        foreach (double l2 in candidates)
            if (!(l2 >= 0) || double.IsInfinity(l2))
                throw new TailorException($"The L2 candidate {l2} is not allowed; it must be a finite number ≥ 0.");
        int rows = labels.Length;
        if (rowsPerExample < 1 || rows == 0 || rows % rowsPerExample != 0 || features.Length % rows != 0)
            throw new TailorException($"{rows} rows do not group into examples of {rowsPerExample} rows with equal-length features.");
        int d = features.Length / rows, examples = rows / rowsPerExample;

        // Stratified folds: each class's examples, in order, go to folds 0, 1, …, k−1, 0, …
        var byClass = new Dictionary<int, List<int>>();
        for (int e = 0; e < examples; e++)
        {
            int label = labels[e * rowsPerExample];
            if (!byClass.TryGetValue(label, out var list)) byClass[label] = list = [];
            list.Add(e);
        }
        var rarestClass = byClass.MinBy(kv => kv.Value.Count);
        int rarest = rarestClass.Key, fewest = rarestClass.Value.Count;
        if (fewest < 2)
            throw new TailorException($"Cross-validating the L2 strength holds examples out, but " +
                (classNames is not null && rarest < classNames.Count ? $"label '{classNames[rarest]}'" : $"class {rarest}") +
                $" has {fewest} example; every label needs at least 2. Add examples, or give one LogisticRegressionTrainingOptions.L2 instead of L2Candidates.");
        int k = Math.Min(folds, fewest);
        if (k < 2)
            throw new TailorException($"Cross-validation needs at least 2 folds; {folds} were asked for.");
        int[] foldOf = new int[examples];
        foreach (var list in byClass.Values)
            for (int i = 0; i < list.Count; i++)
                foldOf[list[i]] = i % k;

        // Folds outside, candidates inside: each fold's training rows are gathered once for every candidate.
        var lossSums = new double[candidates.Count];
        var correct = new int[candidates.Count];
        int held = 0;
        var p = new float[classCount];
        for (int f = 0; f < k; f++)
        {
            int trainCount = 0;
            for (int r = 0; r < rows; r++)
                if (foldOf[r / rowsPerExample] != f) trainCount++;
            float[] x = new float[trainCount * d];
            int[] y = new int[trainCount];
            for (int r = 0, i = 0; r < rows; r++)
            {
                if (foldOf[r / rowsPerExample] == f) continue;
                features.Slice(r * d, d).CopyTo(x.AsSpan(i * d, d));
                y[i++] = labels[r];
            }
            for (int ci = 0; ci < candidates.Count; ci++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var model = Train(x, y, classCount, options with { L2 = candidates[ci] }, cancellationToken);
                for (int e = 0; e < examples; e++)
                {
                    if (foldOf[e] != f) continue;
                    int r = e * rowsPerExample, label = labels[r];
                    model.PredictProbabilities(features.Slice(r * d, d), p);
                    lossSums[ci] -= Math.Log(Math.Max(p[label], 1e-7f));
                    if (TensorPrimitives.IndexOfMax(p) == label) correct[ci]++;
                }
            }
            for (int e = 0; e < examples; e++)
                if (foldOf[e] == f) held++;
        }
        var scores = candidates.Select((l2, ci) => new L2Score(l2, lossSums[ci] / held, correct[ci] / (double)held)).ToList();
        var best = scores[0];
        foreach (var score in scores.Skip(1))
            if (score.CrossEntropy < best.CrossEntropy - 1e-12 || (Math.Abs(score.CrossEntropy - best.CrossEntropy) <= 1e-12 && score.L2 > best.L2))
                best = score;
        return new L2Selection(best.L2, k, scores);
    }

    /// <summary>Trains with string labels; <paramref name="classLabels"/> fixes the class order (e.g. the
    /// neural-network head's labels, placeholder slots included). Labels are compared after NFC normalization.</summary>
    /// <exception cref="TailorException">A label not in <paramref name="classLabels"/>, duplicate class labels,
    /// or any reason of the index overload.</exception>
    public static LogisticRegressionModel Train(ReadOnlySpan<float> features, IReadOnlyList<string> labels,
        IReadOnlyList<string> classLabels, LogisticRegressionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < classLabels.Count; c++)
            if (!index.TryAdd(classLabels[c].Normalize(NormalizationForm.FormC), c))
                throw new TailorException($"The class label '{classLabels[c]}' appears twice; class labels must be distinct.");
        int[] y = new int[labels.Count];
        for (int i = 0; i < y.Length; i++)
            if (!index.TryGetValue(labels[i].Normalize(NormalizationForm.FormC), out y[i]))
                throw new TailorException(
                    $"Example {i} has label '{labels[i]}', which is not one of the model's classes: {string.Join(", ", classLabels)}.");
        return Train(features, y, classLabels.Count, options, cancellationToken);
    }

    /// <summary>The features as T, each row L2-normalized if asked.</summary>
    private static T[] Prepare<T>(ReadOnlySpan<float> features, int n, int d, bool normalize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] x = new T[features.Length];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> row = features.Slice(i * d, d);
            // The norm in double, so the float and double paths see the same scaling.
            double scale = 1;
            if (normalize)
            {
                double ss = 0;
                foreach (float v in row) ss += (double)v * v;
                scale = ss > 0 ? 1 / Math.Sqrt(ss) : 0;
            }
            for (int j = 0; j < d; j++)
                x[i * d + j] = T.CreateTruncating(row[j] * scale);
        }
        return x;
    }

    /// <summary>1/‖v‖, or 0 for a zero vector (which then stays zero).</summary>
    internal static float InverseNorm(ReadOnlySpan<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        return norm > 0 ? 1f / norm : 0f;
    }

    /// <summary>The objective and gradient over θ = [W (C×D row-major), b (C)], computed in T (float or double).</summary>
    internal sealed class SoftmaxObjective<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T[] _x;
        private readonly int[] _y;
        private readonly int _n, _d, _c;
        private readonly double _l2;
        private readonly bool _parallel;
        private readonly T[] _w;
        private readonly T[][] _blockGradW;
        private readonly double[][] _blockGradB;
        private readonly double[] _blockLoss;

        public SoftmaxObjective(T[] x, int[] y, int n, int d, int c, double l2, bool parallel)
        {
            _x = x; _y = y; _n = n; _d = d; _c = c; _l2 = l2; _parallel = parallel;
            _w = new T[c * d];
            int blocks = (n + BlockSize - 1) / BlockSize;
            _blockGradW = new T[blocks][];
            _blockGradB = new double[blocks][];
            _blockLoss = new double[blocks];
            for (int b = 0; b < blocks; b++)
            {
                _blockGradW[b] = new T[c * d];
                _blockGradB[b] = new double[c];
            }
        }

        public double Evaluate(ReadOnlySpan<double> theta, Span<double> gradient)
        {
            int cd = _c * _d;
            for (int i = 0; i < cd; i++) _w[i] = T.CreateTruncating(theta[i]);
            double[] bias = theta.Slice(cd, _c).ToArray();
            int blocks = _blockLoss.Length;
            if (_parallel)
                Parallel.For(0, blocks, b => Block(b, bias));
            else
                for (int b = 0; b < blocks; b++) Block(b, bias);

            // Sum the blocks in a fixed order, in double: deterministic whatever ran where.
            double loss = 0;
            gradient.Clear();
            for (int b = 0; b < blocks; b++)
            {
                loss += _blockLoss[b];
                T[] gw = _blockGradW[b];
                for (int i = 0; i < cd; i++) gradient[i] += double.CreateTruncating(gw[i]);
                for (int k = 0; k < _c; k++) gradient[cd + k] += _blockGradB[b][k];
            }
            double invN = 1.0 / _n, penalty = 0;
            for (int i = 0; i < cd; i++)
            {
                double w = theta[i];
                gradient[i] = gradient[i] * invN + _l2 * w;
                penalty += w * w;
            }
            for (int k = 0; k < _c; k++) gradient[cd + k] *= invN;
            return loss * invN + 0.5 * _l2 * penalty;
        }

        private void Block(int block, double[] bias)
        {
            T[] gw = _blockGradW[block];
            double[] gb = _blockGradB[block];
            Array.Clear(gw);
            Array.Clear(gb);
            int start = block * BlockSize, end = Math.Min(_n, start + BlockSize);
            // Residuals r = p − onehot(y) of up to 4 examples, [4, C].
            Span<double> r = _c <= 64 ? stackalloc double[4 * _c] : new double[4 * _c];
            Span<T> rt = _c <= 64 ? stackalloc T[4 * _c] : new T[4 * _c];
            double loss = 0;
            for (int i = start; i < end; i += 4)
            {
                int rows = Math.Min(4, end - i);
                // Logits of the 4 examples: each weight row is read once per 4 examples (register blocking).
                for (int k = 0; k < _c; k++)
                {
                    ReadOnlySpan<T> w = _w.AsSpan(k * _d, _d);
                    if (rows == 4)
                    {
                        Dot4(_x.AsSpan(i * _d, 4 * _d), w, _d, out T z0, out T z1, out T z2, out T z3);
                        r[k] = double.CreateTruncating(z0);
                        r[_c + k] = double.CreateTruncating(z1);
                        r[2 * _c + k] = double.CreateTruncating(z2);
                        r[3 * _c + k] = double.CreateTruncating(z3);
                    }
                    else
                        for (int q = 0; q < rows; q++)
                            r[q * _c + k] = double.CreateTruncating(TensorPrimitives.Dot(_x.AsSpan((i + q) * _d, _d), w));
                }
                for (int q = 0; q < rows; q++)
                {
                    Span<double> z = r.Slice(q * _c, _c);
                    double max = double.NegativeInfinity;
                    for (int k = 0; k < _c; k++)
                    {
                        z[k] += bias[k];
                        max = Math.Max(max, z[k]);
                    }
                    int yi = _y[i + q];
                    double zy = z[yi], sum = 0;
                    for (int k = 0; k < _c; k++)
                    {
                        z[k] = Math.Exp(z[k] - max);
                        sum += z[k];
                    }
                    // −log p_y = log Σ exp(z − max) + max − z_y, which cannot overflow or take log 0.
                    loss += Math.Log(sum) + max - zy;
                    for (int k = 0; k < _c; k++)
                    {
                        z[k] = z[k] / sum - (k == yi ? 1 : 0);
                        gb[k] += z[k];
                        rt[q * _c + k] = T.CreateTruncating(z[k]);
                    }
                }
                // ∇W row k += Σ_q r_qk x_q: each gradient row is loaded and stored once per 4 examples.
                for (int k = 0; k < _c; k++)
                {
                    Span<T> g = gw.AsSpan(k * _d, _d);
                    if (rows == 4)
                        Axpy4(_x.AsSpan(i * _d, 4 * _d), _d, rt[k], rt[_c + k], rt[2 * _c + k], rt[3 * _c + k], g);
                    else
                        for (int q = 0; q < rows; q++)
                            TensorPrimitives.MultiplyAdd(_x.AsSpan((i + q) * _d, _d), rt[q * _c + k], g, g);
                }
            }
            _blockLoss[block] = loss;
        }

        /// <summary>Dot products of 4 consecutive rows of x (length d each) with w.</summary>
        internal static void Dot4(ReadOnlySpan<T> x, ReadOnlySpan<T> w, int d, out T z0, out T z1, out T z2, out T z3)
        {
            ReadOnlySpan<T> x0 = x[..d], x1 = x.Slice(d, d), x2 = x.Slice(2 * d, d), x3 = x.Slice(3 * d, d);
            Vector<T> a0 = Vector<T>.Zero, a1 = a0, a2 = a0, a3 = a0;
            int width = Vector<T>.Count, j = 0;
            for (; j <= d - width; j += width)
            {
                var wv = new Vector<T>(w[j..]);
                a0 += new Vector<T>(x0[j..]) * wv;
                a1 += new Vector<T>(x1[j..]) * wv;
                a2 += new Vector<T>(x2[j..]) * wv;
                a3 += new Vector<T>(x3[j..]) * wv;
            }
            z0 = Vector.Sum(a0); z1 = Vector.Sum(a1); z2 = Vector.Sum(a2); z3 = Vector.Sum(a3);
            for (; j < d; j++)
            {
                z0 += x0[j] * w[j]; z1 += x1[j] * w[j]; z2 += x2[j] * w[j]; z3 += x3[j] * w[j];
            }
        }

        /// <summary>g += r0·x0 + r1·x1 + r2·x2 + r3·x3 for 4 consecutive rows of x (length d each).</summary>
        internal static void Axpy4(ReadOnlySpan<T> x, int d, T r0, T r1, T r2, T r3, Span<T> g)
        {
            ReadOnlySpan<T> x0 = x[..d], x1 = x.Slice(d, d), x2 = x.Slice(2 * d, d), x3 = x.Slice(3 * d, d);
            Vector<T> v0 = new(r0), v1 = new(r1), v2 = new(r2), v3 = new(r3);
            int width = Vector<T>.Count, j = 0;
            for (; j <= d - width; j += width)
            {
                var acc = new Vector<T>(g[j..]);
                acc += new Vector<T>(x0[j..]) * v0 + new Vector<T>(x1[j..]) * v1
                     + new Vector<T>(x2[j..]) * v2 + new Vector<T>(x3[j..]) * v3;
                acc.CopyTo(g[j..]);
            }
            for (; j < d; j++)
                g[j] += x0[j] * r0 + x1[j] * r1 + x2[j] * r2 + x3[j] * r3;
        }
    }
}
