"""PyTorch's side of `dotnet run -c Release --project bench/Tailor.Bench -- parity`: trains the same suffix of the same
ONNX model, from the same cut features that Tailor's frozen prefix computed, with the same loss and optimizer, and writes
the trained tensors. Run with Debian's packages: /usr/bin/python3 torch_parity.py REQUEST.json
REQUEST: {"model": path, "cut": [tensor names], "cut_shapes": [[per-example shape]...], "features": path of float32
(per cut tensor, [batch, shape] in order), "labels": [slot per example], "output": probabilities tensor,
"trainable": [initializer names], "runs": [{"name", "optimizer": "sgd"|"adam", "steps", hyperparameters…, "out": path}]}
Each run writes its trained tensors as float32, back to back in the order of "trainable", and the loss before each step;
OUT.g its gradients at each step; with "tailor_weights" (Tailor's weights before each step), OUT.replay.g PyTorch's gradient
at those weights and OUT.replay.w its optimizer's step from them."""
import json, math, os, sys
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_torch


def main():
    req = json.load(open(sys.argv[1], encoding="utf-8"))
    torch.set_num_threads(req.get("threads", 1))
    torch.manual_seed(0)
    labels = torch.tensor(req["labels"], dtype=torch.int64)
    batch = len(req["labels"])
    raw = np.fromfile(req["features"], dtype=np.float32)
    cut_values, offset = [], 0
    for shape in req["cut_shapes"]:
        n = batch * int(np.prod(shape))
        cut_values.append(torch.from_numpy(raw[offset:offset + n].reshape([batch] + list(shape)).copy()))
        offset += n
    if offset != raw.size:
        raise SystemExit(f"features: {raw.size} floats, the cut shapes need {offset}")
    report = {"runs": []}
    for run in req["runs"]:
        # A fresh model per run: each run starts from the file's weights, as Tailor's does.
        suffix = onnx_torch.Suffix(req["model"], req["cut"], req["output"], req["trainable"], req.get("overrides"))
        opt = onnx_torch.optimizer(run["optimizer"], suffix.parameters(), run)
        losses, grads = [], []
        for _ in range(run["steps"]):
            opt.zero_grad(set_to_none=True)
            loss = onnx_torch.cross_entropy(suffix, cut_values, labels)
            losses.append(float(loss) if math.isfinite(float(loss)) else None)  # JSON has no NaN
            loss.backward()
            grads.append([p.grad.detach().numpy().astype(np.float32).copy() for p in suffix.params])
            opt.step()
        with open(run["out"], "wb") as f:
            for p in suffix.params:
                f.write(p.detach().numpy().astype(np.float32).tobytes())
        # Each step's gradients on PyTorch's own trajectory, back to back (step, then tensor in "trainable" order).
        with open(run["out"] + ".g", "wb") as f:
            for step in grads:
                for g in step:
                    f.write(g.tobytes())
        # The gradient at Tailor's weights before each step (the file holds them step by step): the engine's gradient
        # compared at the same point, without the drift of two trajectories.
        if run.get("tailor_weights"):
            w = np.fromfile(run["tailor_weights"], dtype=np.float32)
            sizes = [p.numel() for p in suffix.params]
            total = sum(sizes)
            if w.size != total * run["steps"]:
                raise SystemExit(f"tailor_weights: {w.size} floats, {run['steps']} steps of {total} expected")
            # Then PyTorch's optimizer steps from Tailor's weights with that gradient (its state carried from step to
            # step): the update each engine makes from the same point, written after each step to OUT.replay.w.
            replay = onnx_torch.Suffix(req["model"], req["cut"], req["output"], req["trainable"], req.get("overrides"))
            replay_opt = onnx_torch.optimizer(run["optimizer"], replay.parameters(), run)
            with open(run["out"] + ".replay.g", "wb") as f, open(run["out"] + ".replay.w", "wb") as fw:
                for step in range(run["steps"]):
                    off = step * total
                    with torch.no_grad():
                        for p, n in zip(replay.params, sizes):
                            p.copy_(torch.from_numpy(w[off:off + n].reshape(p.shape)))
                            off += n
                    for p in replay.params:
                        p.grad = None
                    onnx_torch.cross_entropy(replay, cut_values, labels).backward()
                    for p in replay.params:
                        f.write(p.grad.detach().numpy().astype(np.float32).tobytes())
                    replay_opt.step()
                    for p in replay.params:
                        fw.write(p.detach().numpy().astype(np.float32).tobytes())
        report["runs"].append({"name": run["name"], "losses": losses})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
