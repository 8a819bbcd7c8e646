namespace Tailor.Tests;

/// <summary>Tests that measure allocations or share the GEMM worker threads run alone: a lock inflated or a
/// wait handle created lazily because another test was multiplying at the same moment is not a leak of
/// the code under test.</summary>
[CollectionDefinition("Serial", DisableParallelization = true)]
public sealed class SerialCollection;
