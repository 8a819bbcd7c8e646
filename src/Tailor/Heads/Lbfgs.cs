namespace Tailor.Heads;

/// <summary>A function to minimize: returns f(x) and writes ∇f(x) into <paramref name="gradient"/>
/// (same length as <paramref name="x"/>). It may return +∞ or NaN where f is undefined; the line search
/// then steps back.</summary>
public delegate double DifferentiableFunction(ReadOnlySpan<double> x, Span<double> gradient);

/// <summary>Settings of <see cref="Lbfgs.Minimize"/>. Immutable; every value has a documented default.</summary>
public sealed record LbfgsOptions
{
    /// <summary>Number m of (s, y) correction pairs kept. Default 10; allowed 1–1000.</summary>
    public int HistorySize { get; init; } = 10;

    /// <summary>Most iterations (accepted steps). Default 500; allowed ≥ 1.</summary>
    public int MaxIterations { get; init; } = 500;

    /// <summary>Converged when ‖∇f‖₂ ≤ this. Default 1e-6; allowed ≥ 0.</summary>
    public double GradientTolerance { get; init; } = 1e-6;

    /// <summary>Converged when ‖∇f‖₂ ≤ this × ‖∇f(start)‖₂ (scale-free). Default 0 (off); allowed ≥ 0.</summary>
    public double RelativeGradientTolerance { get; init; }

    /// <summary>Relative accuracy ε of computed f values. Near the minimum, where f's decrease drops below its
    /// rounding noise, a step is accepted if f(α) ≤ f(0) + ε·(1 + |f(0)|) and the slope condition of Hager &amp;
    /// Zhang's approximate Wolfe test holds. Default 1e-12 (f summed in double); use about 1e-6 for f computed
    /// in float. Allowed 0 ≤ ε &lt; 1.</summary>
    public double FunctionNoise { get; init; } = 1e-12;

    /// <summary>Converged when a step lowers f by at most this × max(1, |f|). Default 1e-12; allowed ≥ 0
    /// (0 disables the test).</summary>
    public double FunctionTolerance { get; init; } = 1e-12;

    /// <summary>Most function evaluations per line search. Default 30; allowed ≥ 2.</summary>
    public int MaxLineSearchEvaluations { get; init; } = 30;

    /// <summary>Sufficient-decrease constant c₁ of the Wolfe conditions. Default 1e-4; allowed 0 &lt; c₁ &lt; c₂.</summary>
    public double SufficientDecrease { get; init; } = 1e-4;

    /// <summary>Curvature constant c₂ of the strong Wolfe conditions. Default 0.9; allowed c₁ &lt; c₂ &lt; 1.</summary>
    public double Curvature { get; init; } = 0.9;

    internal void Validate()
    {
        if (HistorySize is < 1 or > 1000)
            throw new TailorException($"L-BFGS history size {HistorySize} is not allowed; it must be between 1 and 1000.");
        if (MaxIterations < 1)
            throw new TailorException($"L-BFGS max iterations {MaxIterations} is not allowed; it must be at least 1.");
        if (!(GradientTolerance >= 0))
            throw new TailorException($"L-BFGS gradient tolerance {GradientTolerance} is not allowed; it must be ≥ 0.");
        if (!(FunctionTolerance >= 0))
            throw new TailorException($"L-BFGS function tolerance {FunctionTolerance} is not allowed; it must be ≥ 0.");
        if (!(RelativeGradientTolerance >= 0))
            throw new TailorException($"L-BFGS relative gradient tolerance {RelativeGradientTolerance} is not allowed; it must be ≥ 0.");
        if (!(FunctionNoise >= 0 && FunctionNoise < 1))
            throw new TailorException($"L-BFGS function noise {FunctionNoise} is not allowed; it must be in [0, 1).");
        if (MaxLineSearchEvaluations < 2)
            throw new TailorException($"L-BFGS line-search evaluations {MaxLineSearchEvaluations} is not allowed; it must be at least 2.");
        if (!(SufficientDecrease > 0 && SufficientDecrease < Curvature && Curvature < 1))
            throw new TailorException(
                $"L-BFGS Wolfe constants c1 = {SufficientDecrease}, c2 = {Curvature} are not allowed; they must satisfy 0 < c1 < c2 < 1.");
    }
}

/// <summary>The outcome of <see cref="Lbfgs.Minimize"/>: always the best point found, converged or not.</summary>
/// <param name="Minimizer">The best x found (lowest f among accepted iterates).</param>
/// <param name="Value">f at <paramref name="Minimizer"/>.</param>
/// <param name="GradientNorm">‖∇f‖₂ at <paramref name="Minimizer"/>.</param>
/// <param name="Iterations">Accepted steps taken.</param>
/// <param name="Evaluations">Calls of the function.</param>
/// <param name="Converged">Whether a tolerance was met (otherwise the iteration limit, a failed line search or
/// cancellation stopped it).</param>
/// <param name="Message">Why it stopped, with the gradient norm and iteration count.</param>
public sealed record LbfgsResult(double[] Minimizer, double Value, double GradientNorm, int Iterations, int Evaluations,
    bool Converged, string Message);

/// <summary>
/// Limited-memory BFGS (Nocedal &amp; Wright, <i>Numerical Optimization</i>, 2nd ed., Alg. 7.4 and 7.5) with a
/// line search that satisfies the strong Wolfe conditions (Alg. 3.5/3.6, cubic interpolation, bisection
/// safeguard): f(x + αp) ≤ f(x) + c₁α∇f·p and |∇f(x + αp)·p| ≤ c₂|∇f·p|.
/// </summary>
/// <remarks>Deterministic: the same function and start give the same iterates. The first step has length
/// min(1, 1/‖∇f‖); later ones start at α = 1 with the initial Hessian γI, γ = sᵀy / yᵀy. Pairs with
/// sᵀy ≤ 1e-10·‖y‖² are skipped (they would break positive definiteness). If a line search fails, the
/// memory is cleared and steepest descent is tried once before giving up. Work is never thrown away: every
/// stop returns the best iterate with <see cref="LbfgsResult.Converged"/> saying whether it converged.</remarks>
public static class Lbfgs
{
    /// <summary>Minimizes <paramref name="function"/> from <paramref name="start"/>.</summary>
    /// <exception cref="TailorException">Options outside their allowed values, an empty start, or f/∇f not
    /// finite at the start.</exception>
    public static LbfgsResult Minimize(DifferentiableFunction function, ReadOnlySpan<double> start,
        LbfgsOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LbfgsOptions();
        options.Validate();
        int n = start.Length;
        if (n == 0)
            throw new TailorException("L-BFGS needs at least one variable; the start point is empty.");

        double[] x = start.ToArray(), g = new double[n];
        double f = function(x, g);
        int evaluations = 1;
        if (!double.IsFinite(f) || !AllFinite(g))
            throw new TailorException($"L-BFGS: the function or its gradient is not finite at the start point (f = {f}).");

        int m = options.HistorySize;
        var s = new double[m][];
        var y = new double[m][];
        var rho = new double[m];
        for (int i = 0; i < m; i++) { s[i] = new double[n]; y[i] = new double[n]; }
        double[] alphaBuf = new double[m];
        int stored = 0, newest = -1;

        double[] p = new double[n], xNew = new double[n], gNew = new double[n];
        var search = new LineSearch(function, options, n);
        int iteration = 0;
        double gnorm = Norm(g);
        double gtol = Math.Max(options.GradientTolerance, options.RelativeGradientTolerance * gnorm);

        while (true)
        {
            if (gnorm <= gtol)
                return Done(true, $"converged: gradient norm {gnorm:G3} ≤ {gtol:G3} after {iteration} iterations");
            if (iteration >= options.MaxIterations)
                return Done(false, $"did not converge within {options.MaxIterations} iterations: gradient norm {gnorm:G3} > {gtol:G3}");
            if (cancellationToken.IsCancellationRequested)
                return Done(false, $"cancelled after {iteration} iterations: gradient norm {gnorm:G3}");

            // Two-loop recursion: p = −H∇f.
            Direction(g, p, s, y, rho, alphaBuf, stored, newest);
            double slope = Dot(g, p);
            if (!(slope < 0))
            {
                stored = 0;
                for (int i = 0; i < n; i++) p[i] = -g[i];
                slope = -gnorm * gnorm;
            }

            double alpha0 = stored == 0 ? Math.Min(1.0, 1.0 / gnorm) : 1.0;
            double fNew = search.Run(x, f, p, slope, alpha0, xNew, gNew, ref evaluations);
            if (double.IsNaN(fNew))
            {
                if (stored > 0)
                {
                    stored = 0; // retry once along the steepest descent
                    continue;
                }
                return Done(false, $"did not converge: the line search found no acceptable step after {iteration} iterations; gradient norm {gnorm:G3}");
            }

            // Update the memory with s = xNew − x, y = gNew − g.
            int slot = (newest + 1) % m;
            double sy = 0, yy = 0;
            for (int i = 0; i < n; i++)
            {
                double si = xNew[i] - x[i], yi = gNew[i] - g[i];
                s[slot][i] = si;
                y[slot][i] = yi;
                sy += si * yi;
                yy += yi * yi;
            }
            if (sy > 1e-10 * yy)
            {
                rho[slot] = 1 / sy;
                newest = slot;
                stored = Math.Min(stored + 1, m);
            }

            double decrease = f - fNew;
            (x, xNew) = (xNew, x);
            (g, gNew) = (gNew, g);
            f = fNew;
            gnorm = Norm(g);
            iteration++;
            if (decrease <= options.FunctionTolerance * Math.Max(1, Math.Abs(f)) && gnorm > gtol)
                return Done(true, $"converged: the last step lowered f by {decrease:G3} ≤ {options.FunctionTolerance:G3}·max(1,|f|) " +
                    $"after {iteration} iterations; gradient norm {gnorm:G3}");
        }

        LbfgsResult Done(bool converged, string message) =>
            new(x, f, gnorm, iteration, evaluations, converged, message);
    }

    private static void Direction(double[] g, double[] p, double[][] s, double[][] y, double[] rho, double[] alpha,
        int stored, int newest)
    {
        int n = g.Length, m = s.Length;
        for (int i = 0; i < n; i++) p[i] = -g[i];
        if (stored == 0)
            return;
        for (int j = 0, slot = newest; j < stored; j++, slot = (slot - 1 + m) % m)
        {
            alpha[slot] = rho[slot] * Dot(s[slot], p);
            Axpy(-alpha[slot], y[slot], p);
        }
        double gamma = Dot(s[newest], y[newest]) / Dot(y[newest], y[newest]);
        for (int i = 0; i < n; i++) p[i] *= gamma;
        int oldest = (newest - stored + 1 + m) % m;
        for (int j = 0, slot = oldest; j < stored; j++, slot = (slot + 1) % m)
        {
            double beta = rho[slot] * Dot(y[slot], p);
            Axpy(alpha[slot] - beta, s[slot], p);
        }
    }

    /// <summary>Strong-Wolfe line search along p from x. Returns f at the accepted point (x and gradient in
    /// xOut, gOut), or NaN when no acceptable point was found within the evaluation budget.</summary>
    private sealed class LineSearch(DifferentiableFunction function, LbfgsOptions options, int n)
    {
        private readonly double[] _xt = new double[n], _gt = new double[n];
        private double[] _x = [], _p = [], _xOut = [], _gOut = [];
        private double _f0, _slope0;

        // Sufficient decrease (Armijo): f(α) ≤ f(0) + c₁αf'(0). Near the minimum the decrease c₁αf'(0) drops
        // below the rounding noise of f, and Armijo fails on noise; then accept the approximate Wolfe condition
        // of Hager & Zhang (2005): f(α) ≤ f(0) + ε(1 + |f(0)|) and f'(α) ≤ (2c₁ − 1)f'(0), which relies on the
        // slope, still accurate there; ε = FunctionNoise.
        private bool Decreases(double alpha, double fa, double slope)
        {
            double c1 = options.SufficientDecrease;
            return fa <= _f0 + c1 * alpha * _slope0
                || (fa <= _f0 + options.FunctionNoise * (1 + Math.Abs(_f0)) && slope <= (2 * c1 - 1) * _slope0);
        }

        public double Run(double[] x, double f0, double[] p, double slope0, double alpha, double[] xOut, double[] gOut, ref int evaluations)
        {
            _x = x; _p = p; _xOut = xOut; _gOut = gOut;
            _f0 = f0; _slope0 = slope0;
            double c2 = options.Curvature;
            int budget = options.MaxLineSearchEvaluations;
            double prevAlpha = 0, prevF = f0, prevSlope = slope0;
            // Best point meeting sufficient decrease so far, to fall back on when the budget runs out.
            double bestAlpha = 0, bestF = f0;

            for (int i = 0; i < budget; i++)
            {
                double fa = Evaluate(alpha, out double slope, ref evaluations);
                bool decrease = Decreases(alpha, fa, slope);
                if (decrease && fa < bestF) { bestAlpha = alpha; bestF = fa; }
                if (!decrease || (i > 0 && fa >= prevF))
                    return Zoom(prevAlpha, prevF, prevSlope, alpha, fa, slope, f0, slope0, budget - i - 1, ref evaluations, ref bestAlpha, ref bestF);
                if (Math.Abs(slope) <= -c2 * slope0)
                    return Accept(fa);
                if (slope >= 0)
                    return Zoom(alpha, fa, slope, prevAlpha, prevF, prevSlope, f0, slope0, budget - i - 1, ref evaluations, ref bestAlpha, ref bestF);
                prevAlpha = alpha; prevF = fa; prevSlope = slope;
                alpha *= 2;
            }
            return Fallback(bestAlpha, bestF, ref evaluations);
        }

        private double Zoom(double lo, double fLo, double sLo, double hi, double fHi, double sHi, double f0, double slope0,
            int budget, ref int evaluations, ref double bestAlpha, ref double bestF)
        {
            double c2 = options.Curvature;
            for (int i = 0; i < budget; i++)
            {
                double a = Interpolate(lo, fLo, sLo, hi, fHi, sHi);
                double fa = Evaluate(a, out double slope, ref evaluations);
                bool decrease = Decreases(a, fa, slope);
                if (decrease && fa < bestF) { bestAlpha = a; bestF = fa; }
                if (!decrease || fa > fLo || (fa == fLo && !(slope * (hi - lo) < 0)))
                {
                    hi = a; fHi = fa; sHi = slope;
                }
                else
                {
                    if (Math.Abs(slope) <= -c2 * slope0)
                        return Accept(fa);
                    if (slope * (hi - lo) >= 0)
                    {
                        hi = lo; fHi = fLo; sHi = sLo;
                    }
                    lo = a; fLo = fa; sLo = slope;
                }
                if (Math.Abs(hi - lo) <= 1e-16 * Math.Max(1, Math.Abs(lo)))
                    break;
            }
            return Fallback(bestAlpha, bestF, ref evaluations);
        }

        // Budget exhausted: take the best point with sufficient decrease (Armijo) if there is one. It is still a
        // descent step; curvature may fail, and the BFGS update then guards itself (sᵀy test).
        private double Fallback(double bestAlpha, double bestF, ref int evaluations)
        {
            if (bestAlpha == 0)
                return double.NaN;
            double fa = Evaluate(bestAlpha, out _, ref evaluations);
            return fa == bestF ? Accept(fa) : double.NaN;
        }

        // Minimizer of the cubic through (lo, fLo, sLo) and (hi, fHi, sHi), kept at least 10% of the interval
        // away from either end; bisection when the cubic has no real minimizer or values are not finite.
        private static double Interpolate(double lo, double fLo, double sLo, double hi, double fHi, double sHi)
        {
            double left = Math.Min(lo, hi), right = Math.Max(lo, hi), width = right - left;
            double mid = 0.5 * (lo + hi);
            double d1 = sLo + sHi - 3 * (fLo - fHi) / (lo - hi);
            double disc = d1 * d1 - sLo * sHi;
            if (!double.IsFinite(disc) || disc < 0 || !double.IsFinite(fHi))
                return mid;
            double d2 = Math.Sign(hi - lo) * Math.Sqrt(disc);
            double a = hi - (hi - lo) * (sHi + d2 - d1) / (sHi - sLo + 2 * d2);
            if (!double.IsFinite(a) || a < left + 0.1 * width || a > right - 0.1 * width)
                return mid;
            return a;
        }

        private double Evaluate(double alpha, out double slope, ref int evaluations)
        {
            for (int i = 0; i < _xt.Length; i++) _xt[i] = _x[i] + alpha * _p[i];
            double f = function(_xt, _gt);
            evaluations++;
            if (!double.IsFinite(f) || !AllFinite(_gt))
            {
                slope = double.NaN;
                return double.PositiveInfinity;
            }
            slope = Dot(_gt, _p);
            return f;
        }

        private double Accept(double f)
        {
            _xt.CopyTo(_xOut, 0);
            _gt.CopyTo(_gOut, 0);
            return f;
        }
    }

    private static double Dot(double[] a, double[] b) => System.Numerics.Tensors.TensorPrimitives.Dot<double>(a, b);

    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    private static void Axpy(double a, double[] x, double[] y) =>
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd<double>(x, a, y, y);

    private static bool AllFinite(ReadOnlySpan<double> v)
    {
        foreach (double d in v)
            if (!double.IsFinite(d))
                return false;
        return true;
    }
}
