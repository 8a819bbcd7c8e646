"""PyTorch's side of `dotnet run -c Release --project bench/Tailor.Bench -- parity`: trains the same suffix of the same
ONNX model, from the same cut features that Tailor's frozen prefix computed, with the same loss and optimizer, and writes
the trained tensors. Run with Debian's packages: /usr/bin/python3 torch_parity.py REQUEST.json
REQUEST: {"model": path, "cut": [tensor names], "cut_shapes": [[per-example shape]...], "features": path of float32
(per cut tensor, [batch, shape] in order), "labels": [slot per example], "output": probabilities tensor,
"trainable": [initializer names], "runs": [{"name", "optimizer": "sgd"|"adam", "steps", hyperparameters…, "out": path}]}
Each run writes its trained tensors as float32, back to back in the order of "trainable", and the loss before each step."""
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
        losses = []
        for _ in range(run["steps"]):
            opt.zero_grad(set_to_none=True)
            loss = onnx_torch.cross_entropy(suffix, cut_values, labels)
            losses.append(float(loss) if math.isfinite(float(loss)) else None)  # JSON has no NaN
            loss.backward()
            opt.step()
        with open(run["out"], "wb") as f:
            for p in suffix.params:
                f.write(p.detach().numpy().astype(np.float32).tobytes())
        report["runs"].append({"name": run["name"], "losses": losses})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
