using Tailor.Heads;

namespace Tailor.Tests.Heads;

/// <summary>
/// Choosing logistic regression's L2 strength by stratified cross-validation: it must prefer strong
/// regularization where a weak one overfits, a weak one where a strong one underfits, keep an example's
/// augmented rows in one fold, and say which class is too small to hold out.
/// </summary>
public class L2CrossValidationTests
{
    /// <summary>n examples in d dimensions, c classes; class k shifts the first <paramref name="informative"/>
    /// dimensions by <paramref name="signal"/> in its own pattern, the rest is unit noise.</summary>
    private static (float[] X, int[] Y) Problem(int n, int d, int c, int informative, double signal, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * d];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = i % c;
            for (int j = 0; j < d; j++)
            {
                double gauss = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                x[i * d + j] = (float)(gauss + (j < informative && j % c == y[i] ? signal : 0));
            }
        }
        return (x, y);
    }

    [Fact]
    public void FewExamplesInManyDimensions_PrefersTheStrongerL2()
    {
        // 30 examples, 300 noise-dominated dimensions: an almost unregularized fit memorizes the noise.
        var (x, y) = Problem(30, 300, 3, informative: 6, signal: 1.5, seed: 3);
        var selection = LogisticRegression.CrossValidateL2(x, y, 3, [1e-6, 0.1]);
        Assert.Equal(0.1, selection.Chosen);
        Assert.Equal(5, selection.Folds);
        Assert.True(selection.Scores[1].CrossEntropy < selection.Scores[0].CrossEntropy);
    }

    [Fact]
    public void ManyExamplesInFewDimensions_PrefersTheWeakerL2()
    {
        // 300 examples of well-separated classes in 4-d: λ = 10 shrinks the weights until every class looks alike.
        var (x, y) = Problem(300, 4, 3, informative: 4, signal: 3, seed: 4);
        var selection = LogisticRegression.CrossValidateL2(x, y, 3, [1e-4, 10]);
        Assert.Equal(1e-4, selection.Chosen);
        // The shrunken model may still rank the right class first; its probabilities are what suffer.
        Assert.True(selection.Scores[0].CrossEntropy < selection.Scores[1].CrossEntropy / 2,
            $"{selection.Scores[0].CrossEntropy} vs {selection.Scores[1].CrossEntropy}");
    }

    [Fact]
    public void AugmentedRows_StayInTheirExamplesFold()
    {
        // Each example twice in a row: grouped as one example, the folds see the same data as without the copies
        // (and the mean loss is the same), so the scores match. Split apart, a held-out row's twin would be trained on.
        var (x, y) = Problem(24, 60, 3, informative: 6, signal: 1.5, seed: 5);
        int d = 60;
        var x2 = new float[x.Length * 2];
        var y2 = new int[y.Length * 2];
        for (int i = 0; i < y.Length; i++)
        {
            x.AsSpan(i * d, d).CopyTo(x2.AsSpan(2 * i * d, d));
            x.AsSpan(i * d, d).CopyTo(x2.AsSpan((2 * i + 1) * d, d));
            y2[2 * i] = y2[2 * i + 1] = y[i];
        }
        double[] candidates = [1e-5, 1e-2];
        var plain = LogisticRegression.CrossValidateL2(x, y, 3, candidates);
        var grouped = LogisticRegression.CrossValidateL2(x2, y2, 3, candidates, rowsPerExample: 2);
        var leaky = LogisticRegression.CrossValidateL2(x2, y2, 3, candidates, rowsPerExample: 1);
        for (int i = 0; i < candidates.Length; i++)
            Assert.Equal(plain.Scores[i].CrossEntropy, grouped.Scores[i].CrossEntropy, 3);
        // With the twins split, the weakly regularized fit scores far better than it should.
        Assert.True(leaky.Scores[0].CrossEntropy < plain.Scores[0].CrossEntropy / 2,
            $"leaky {leaky.Scores[0].CrossEntropy}, grouped {plain.Scores[0].CrossEntropy}");
    }

    [Fact]
    public void IsDeterministic_AndScoresEveryCandidate()
    {
        var (x, y) = Problem(30, 20, 3, informative: 6, signal: 1, seed: 6);
        var a = LogisticRegression.CrossValidateL2(x, y, 3);
        var b = LogisticRegression.CrossValidateL2(x, y, 3);
        Assert.Equal(LogisticRegression.DefaultL2Candidates, a.Scores.Select(s => s.L2));
        Assert.Equal(a.Scores, b.Scores);
        Assert.Contains(a.Chosen, LogisticRegression.DefaultL2Candidates);
        Assert.Equal(a.Scores.MinBy(s => s.CrossEntropy)!.L2, a.Chosen);
    }

    [Fact]
    public void AClassWithOneExample_IsNamed()
    {
        var (x, y) = Problem(7, 5, 3, informative: 3, signal: 1, seed: 7); // classes 0,1,2,0,1,2,0: class 2 has 2, all ≥ 2
        y[5] = 0; // now class 2 has one example
        var e = Assert.Throws<TailorException>(() => LogisticRegression.CrossValidateL2(x, y, 3));
        Assert.Contains("class 2 has 1 example", e.Message);
        Assert.Contains("LogisticRegressionTrainingOptions.L2", e.Message);
        // With the class names, the label as the user wrote it.
        e = Assert.Throws<TailorException>(() => LogisticRegression.CrossValidateL2(x, y, 3, classNames: ["✊", "✋", "✌️"]));
        Assert.Contains("label '✌️' has 1 example", e.Message);
    }
}
