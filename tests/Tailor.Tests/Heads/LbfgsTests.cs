using Tailor.Heads;

namespace Tailor.Tests.Heads;

public class LbfgsTests
{
    // Extended Rosenbrock: Σ 100(x₂ᵢ − x₂ᵢ₋₁²)² + (1 − x₂ᵢ₋₁)², minimum 0 at all ones.
    private static double Rosenbrock(ReadOnlySpan<double> x, Span<double> g)
    {
        double f = 0;
        g.Clear();
        for (int i = 0; i + 1 < x.Length; i += 2)
        {
            double a = x[i], b = x[i + 1], t = b - a * a, u = 1 - a;
            f += 100 * t * t + u * u;
            g[i] += -400 * t * a - 2 * u;
            g[i + 1] += 200 * t;
        }
        return f;
    }

    [Fact]
    public void Rosenbrock2D_FromClassicStart_ReachesOneOne()
    {
        var r = Lbfgs.Minimize(Rosenbrock, [-1.2, 1.0], new LbfgsOptions { GradientTolerance = 1e-9 });
        Assert.True(r.Converged, r.Message);
        Assert.Equal(1.0, r.Minimizer[0], 1e-6);
        Assert.Equal(1.0, r.Minimizer[1], 1e-6);
        Assert.True(r.Value < 1e-12, $"f = {r.Value}");
        Assert.True(r.Iterations < 100, $"{r.Iterations} iterations");
    }

    [Fact]
    public void Rosenbrock20D_ReachesAllOnes()
    {
        double[] start = Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? -1.2 : 1.0).ToArray();
        var r = Lbfgs.Minimize(Rosenbrock, start, new LbfgsOptions { GradientTolerance = 1e-8, MaxIterations = 2000 });
        Assert.True(r.Converged, r.Message);
        Assert.All(r.Minimizer, v => Assert.Equal(1.0, v, 1e-5));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(10)]
    public void ConvexQuadratic_ReachesSolutionOfLinearSystem(int history)
    {
        // f = ½xᵀAx − bᵀx, A = MᵀM + I (SPD, condition ~ 10²); minimum at A⁻¹b.
        const int n = 30;
        var rng = new Random(7);
        double[,] m = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i, j] = rng.NextDouble() - 0.5;
        double[,] a = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? 1 : 0;
                for (int k = 0; k < n; k++) s += m[k, i] * m[k, j];
                a[i, j] = s;
            }
        double[] b = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        double[] expected = LinearAlgebra.Solve(a, b);
        double fmin = 0;
        for (int i = 0; i < n; i++) fmin -= 0.5 * b[i] * expected[i];

        var r = Lbfgs.Minimize((x, g) =>
        {
            double f = 0;
            for (int i = 0; i < n; i++)
            {
                double ax = 0;
                for (int j = 0; j < n; j++) ax += a[i, j] * x[j];
                g[i] = ax - b[i];
                f += 0.5 * x[i] * ax - b[i] * x[i];
            }
            return f;
        }, new double[n], new LbfgsOptions { HistorySize = history, GradientTolerance = 1e-10, FunctionTolerance = 0, MaxIterations = 1000 });

        Assert.True(r.Converged, r.Message);
        for (int i = 0; i < n; i++) Assert.Equal(expected[i], r.Minimizer[i], 1e-8);
        Assert.Equal(fmin, r.Value, 1e-12);
    }

    [Fact]
    public void NonConvergence_ReturnsBestIterate_WithFlagAndMessage()
    {
        double[] start = [-1.2, 1.0];
        double f0 = Rosenbrock(start, new double[2]);
        var r = Lbfgs.Minimize(Rosenbrock, start, new LbfgsOptions { MaxIterations = 5 });
        Assert.False(r.Converged);
        Assert.Equal(5, r.Iterations);
        Assert.Contains("did not converge within 5 iterations", r.Message);
        Assert.Contains("gradient norm", r.Message);
        Assert.True(r.Value < f0);
        // The reported point is the one the value and gradient norm belong to.
        double[] g = new double[2];
        Assert.Equal(r.Value, Rosenbrock(r.Minimizer, g));
        Assert.Equal(r.GradientNorm, Math.Sqrt(g[0] * g[0] + g[1] * g[1]), 1e-12);
    }

    [Fact]
    public void NonFiniteRegion_LineSearchStepsBack()
    {
        // f = x − log x on x > 0 (undefined elsewhere); minimum 1 at x = 1. From x = 0.05 the first step
        // length 1/|f'| lands at x ≈ 1.0; from 3 a long step would cross into x ≤ 0.
        foreach (double start in new[] { 0.05, 3.0, 40.0 })
        {
            var r = Lbfgs.Minimize((x, g) =>
            {
                if (x[0] <= 0) { g[0] = double.NaN; return double.PositiveInfinity; }
                g[0] = 1 - 1 / x[0];
                return x[0] - Math.Log(x[0]);
            }, [start], new LbfgsOptions { GradientTolerance = 1e-10 });
            Assert.True(r.Converged, r.Message);
            Assert.Equal(1.0, r.Minimizer[0], 1e-8);
        }
    }

    [Fact]
    public void AlreadyAtMinimum_ConvergesWithoutIterating()
    {
        var r = Lbfgs.Minimize(Rosenbrock, [1.0, 1.0]);
        Assert.True(r.Converged);
        Assert.Equal(0, r.Iterations);
        Assert.Equal(1, r.Evaluations);
    }

    [Fact]
    public void SameInput_SameIterates()
    {
        var a = Lbfgs.Minimize(Rosenbrock, [-1.2, 1.0, 0.5, 0.5]);
        var b = Lbfgs.Minimize(Rosenbrock, [-1.2, 1.0, 0.5, 0.5]);
        Assert.Equal(a.Minimizer, b.Minimizer);
        Assert.Equal(a.Evaluations, b.Evaluations);
    }

    [Fact]
    public void Cancellation_ReturnsBestIterate()
    {
        using var cts = new CancellationTokenSource();
        int calls = 0;
        var r = Lbfgs.Minimize((x, g) =>
        {
            if (++calls == 10) cts.Cancel();
            return Rosenbrock(x, g);
        }, [-1.2, 1.0], cancellationToken: cts.Token);
        Assert.False(r.Converged);
        Assert.Contains("cancelled", r.Message);
        Assert.True(r.Value < 24.2);
    }

    [Theory]
    [InlineData(0, 1e-6, 0.9)]
    [InlineData(10, -1, 0.9)]
    [InlineData(10, 1e-6, 1.0)]
    public void InvalidOptions_Throw(int history, double tolerance, double c2)
    {
        var e = Assert.Throws<TailorException>(() => Lbfgs.Minimize(Rosenbrock, [0.0, 0.0],
            new LbfgsOptions { HistorySize = history, GradientTolerance = tolerance, Curvature = c2 }));
        Assert.Contains("not allowed", e.Message);
    }

    [Fact]
    public void NonFiniteStart_Throws() =>
        Assert.Throws<TailorException>(() => Lbfgs.Minimize((x, g) => double.NaN, [0.0]));
}

/// <summary>Dense double-precision helpers for reference solutions in tests.</summary>
internal static class LinearAlgebra
{
    /// <summary>Solves A x = b by Gaussian elimination with partial pivoting.</summary>
    public static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        double[,] m = (double[,])a.Clone();
        double[] x = (double[])b.Clone();
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++)
                if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            if (pivot != col)
            {
                for (int c = 0; c < n; c++) (m[col, c], m[pivot, c]) = (m[pivot, c], m[col, c]);
                (x[col], x[pivot]) = (x[pivot], x[col]);
            }
            for (int r = col + 1; r < n; r++)
            {
                double factor = m[r, col] / m[col, col];
                for (int c = col; c < n; c++) m[r, c] -= factor * m[col, c];
                x[r] -= factor * x[col];
            }
        }
        for (int r = n - 1; r >= 0; r--)
        {
            double s = x[r];
            for (int c = r + 1; c < n; c++) s -= m[r, c] * x[c];
            x[r] = s / m[r, r];
        }
        return x;
    }
}
