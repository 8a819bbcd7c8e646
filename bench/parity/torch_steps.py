"""PyTorch's side of `dotnet run -c Release --project bench/Tailor.Bench -- kernels`: times the engine's train steps in
PyTorch, on the same ONNX graphs (run node by node with torch functions by onnx_torch.py: the same layer shapes, loss and
optimizer), with the same harness as the C# side (warm-up, calls per sample calibrated, the median of the samples).
Run with Debian's packages: /usr/bin/python3 torch_steps.py < REQUEST.json
REQUEST: {"threads": [1, 2], "steps": [{"id", "model", "cut", "cut_shapes", "output", "trainable", "batch", "classes",
"nonnegative", "optimizer", hyperparameters…, "sample_seconds", "samples", "warmup_seconds"}]}
Prints {"torch": version, "threads": {"1": {id: {"median", "min", "max", "samples", "calls_per_sample"}}}} (seconds)."""
import json, os, sys, time
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_torch


def measure(operation, sample_seconds, samples, warmup_seconds):
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < warmup_seconds:
        operation()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    per_sample = max(1, int(-(-sample_seconds // max(per_call, 1e-9))))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(per_sample):
            operation()
        times.append((time.perf_counter() - t0) / per_sample)
    times.sort()
    return {"median": times[len(times) // 2], "min": times[0], "max": times[-1], "samples": samples, "calls_per_sample": per_sample}


def main():
    req = json.load(sys.stdin)
    torch.set_num_interop_threads(1)
    # Debian's torch calls BLAS through the libblas.so.3 alternative: the reference BLAS unless OpenBLAS/BLIS is installed.
    blas = next((os.path.realpath(p) for p in ("/usr/lib/x86_64-linux-gnu/libblas.so.3", "/usr/lib/aarch64-linux-gnu/libblas.so.3")
                 if os.path.exists(p)), "unknown")
    result = {"torch": torch.__version__, "blas": blas, "threads": {}}
    for threads in req["threads"]:
        torch.set_num_threads(threads)
        figures = {}
        for st in req["steps"]:
            torch.manual_seed(0)
            suffix = onnx_torch.Suffix(st["model"], st["cut"], st["output"], st["trainable"])
            opt = onnx_torch.optimizer(st["optimizer"], suffix.parameters(), st)
            batch = st["batch"]
            xs = [torch.rand([batch] + shape) * 2 - 1 for shape in st["cut_shapes"]]
            if st.get("nonnegative"):
                xs = [x.abs() for x in xs]
            labels = torch.tensor([i % st["classes"] for i in range(batch)], dtype=torch.int64)

            def step():
                opt.zero_grad(set_to_none=True)
                loss = onnx_torch.cross_entropy(suffix, xs, labels)
                loss.backward()
                opt.step()

            figures[st["id"]] = measure(step, st.get("sample_seconds", 0.02), st.get("samples", 15), st.get("warmup_seconds", 0.5))
            print(f"torch_steps: {threads} thread(s), {st['id']}: {figures[st['id']]['median'] * 1e3:.3f} ms", file=sys.stderr)
        result["threads"][str(threads)] = figures
    print(json.dumps(result))


if __name__ == "__main__":
    main()
