"""The suffix of an ONNX graph as PyTorch code: from given cut tensors to one output, each node run by the torch.nn.functional
call that computes what the ONNX operator specifies, with chosen initializers as trainable torch Parameters. Used by
torch_parity.py (Tailor's training step against PyTorch's on the same graph) and torch_steps.py (the same step timed).
Needs Debian's python3-torch and python3-onnx only (no onnx2torch). Batch normalization runs with the stored statistics
(inference mode), as Tailor trains it."""
import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn.functional as F


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads_2d(pads):
    # ONNX: [top, left, bottom, right]; F.pad: (left, right, top, bottom).
    return (pads[1], pads[3], pads[0], pads[2])


def _conv(x, w, b, a):
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("Conv auto_pad is not supported here")
    strides, dil, groups = a.get("strides", [1, 1]), a.get("dilations", [1, 1]), a.get("group", 1)
    if pads[0] == pads[2] and pads[1] == pads[3]:
        return F.conv2d(x, w, b, strides, (pads[0], pads[1]), dil, groups)
    return F.conv2d(F.pad(x, _pads_2d(pads)), w, b, strides, 0, dil, groups)


def _pool(kind, x, a):
    k, s = a["kernel_shape"], a.get("strides", [1, 1])
    pads = list(a.get("pads", [0, 0, 0, 0]))
    ceil = bool(a.get("ceil_mode", 0))
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise ValueError("asymmetric pooling pads are not supported here")
    if kind == "MaxPool":
        return F.max_pool2d(x, k, s, (pads[0], pads[1]), a.get("dilations", [1, 1]), ceil)
    return F.avg_pool2d(x, k, s, (pads[0], pads[1]), ceil, bool(a.get("count_include_pad", 0)))


def _softmax(x, a, opset, log=False):
    f = F.log_softmax if log else F.softmax
    if opset >= 13:
        return f(x, dim=a.get("axis", -1))
    axis = a.get("axis", 1)
    shape = x.shape
    flat = x.reshape(int(np.prod(shape[:axis])), -1)
    return f(flat, dim=1).reshape(shape)


class Suffix(torch.nn.Module):
    """The nodes of MODEL that lie between CUT tensors and OUTPUT, in graph order. TRAINABLE initializers become
    torch Parameters (named by index; `names` maps them back), the others fixed tensors."""

    def __init__(self, model_path, cut, output, trainable, overrides=None):
        super().__init__()
        m = onnx.load(model_path)
        g = m.graph
        self.opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=13)
        inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        # OVERRIDES: initializer name -> float32 file with its values (e.g. the slot mask training applies).
        for name, path in (overrides or {}).items():
            inits[name] = np.fromfile(path, dtype=np.float32).reshape(inits[name].shape)
        # The nodes the output needs, stopping at the cut.
        producer = {o: n for n in g.node for o in n.output}
        needed, stack = set(), [output]
        cut_set = set(cut)
        while stack:
            t = stack.pop()
            if t in cut_set or t in inits or t not in producer:
                continue
            n = producer[t]
            if id(n) in needed:
                continue
            needed.add(id(n))
            stack.extend(i for i in n.input if i)
        self.nodes = [n for n in g.node if id(n) in needed]
        self.cut, self.output = list(cut), output
        used = {i for n in self.nodes for i in n.input}
        missing = [t for t in trainable if t not in inits]
        if missing:
            raise ValueError(f"trainable tensors that are not initializers: {missing}")
        self.names = list(trainable)
        self.params = torch.nn.ParameterList([torch.nn.Parameter(torch.from_numpy(inits[t].copy())) for t in self.names])
        self.fixed = {t: torch.from_numpy(v.copy()) for t, v in inits.items() if t in used and t not in self.names}
        self.attrs = [_attrs(n) for n in self.nodes]
        # A Softmax output (possibly through Flatten/Reshape/Identity): the loss reads log-probabilities as log_softmax of
        # the Softmax's input, which is what Tailor's cross-entropy does (its gradient at the logits is p − onehot, even
        # where p underflows to 0 in a saturated random network).
        self.softmax_at = None
        for i in range(len(self.nodes) - 1, -1, -1):
            if self.nodes[i].op_type == "Softmax":
                self.softmax_at = i
                break
            if self.nodes[i].op_type not in ("Flatten", "Reshape", "Identity"):
                break

    def log_probabilities(self, *cut_values):
        """log p of the output, rows of classes: log_softmax of the Softmax's input when the output is a Softmax."""
        if self.softmax_at is None:
            return torch.log(self(*cut_values))
        i = self.softmax_at
        env = self._evaluate(self.nodes[:i], self.attrs[:i], cut_values)
        logp = _softmax(env[self.nodes[i].input[0]], self.attrs[i], self.opset, log=True)
        return logp.reshape(logp.shape[0], -1)

    def forward(self, *cut_values):
        return self._evaluate(self.nodes, self.attrs, cut_values)[self.output]

    def _evaluate(self, nodes, attrs, cut_values):
        env = dict(self.fixed)
        env.update({t: p for t, p in zip(self.names, self.params)})
        env.update(zip(self.cut, cut_values))
        for n, a in zip(nodes, attrs):
            ins = [env[i] if i else None for i in n.input]
            outs = self._run(n.op_type, ins, a, n)
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, v in zip(n.output, outs):
                if name:
                    env[name] = v
        return env

    def _run(self, op, x, a, n):
        if op == "Conv":
            return _conv(x[0], x[1], x[2] if len(x) > 2 else None, a)
        if op == "BatchNormalization":
            return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
        if op == "Relu":
            return F.relu(x[0])
        if op == "Sigmoid":
            return torch.sigmoid(x[0])
        if op == "HardSigmoid":
            return torch.clamp(a.get("alpha", 0.2) * x[0] + a.get("beta", 0.5), 0, 1)
        if op == "HardSwish":
            return F.hardswish(x[0])
        if op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min", None)
            hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max", None)
            return torch.clamp(x[0], None if lo is None else float(lo), None if hi is None else float(hi))
        if op == "Add":
            return x[0] + x[1]
        if op == "Sub":
            return x[0] - x[1]
        if op == "Mul":
            return x[0] * x[1]
        if op == "Div":
            return x[0] / x[1]
        if op == "Concat":
            return torch.cat(x, dim=a["axis"])
        if op in ("Dropout", "Identity"):
            return [x[0]] + ([torch.ones_like(x[0], dtype=torch.bool)] if len(n.output) > 1 else [])
        if op == "GlobalAveragePool":
            return x[0].mean(dim=(2, 3), keepdim=True)
        if op == "GlobalMaxPool":
            return torch.amax(x[0], dim=(2, 3), keepdim=True)
        if op in ("AveragePool", "MaxPool"):
            return _pool(op, x[0], a)
        if op == "ReduceMean":
            axes = a.get("axes", None) if self.opset < 18 else (x[1].tolist() if len(x) > 1 else None)
            return x[0].mean(dim=tuple(axes) if axes is not None else None, keepdim=bool(a.get("keepdims", 1)))
        if op == "Flatten":
            axis = a.get("axis", 1)
            return x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        if op == "Reshape":
            shape = [int(s) for s in x[1].tolist()]
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return x[0].reshape(shape)
        if op == "Squeeze":
            axes = a.get("axes", None) if self.opset < 13 else (x[1].tolist() if len(x) > 1 and x[1] is not None else None)
            if axes is None:
                return x[0].squeeze()
            for ax in sorted((ax % x[0].dim() for ax in axes), reverse=True):
                x[0] = x[0].squeeze(ax)
            return x[0]
        if op == "Unsqueeze":
            axes = a["axes"] if self.opset < 13 else x[1].tolist()
            y = x[0]
            for ax in sorted(axes):
                y = y.unsqueeze(ax)
            return y
        if op == "Transpose":
            return x[0].permute(*a["perm"])
        if op == "Gemm":
            A = x[0].t() if a.get("transA", 0) else x[0]
            B = x[1].t() if a.get("transB", 0) else x[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
            return y
        if op == "MatMul":
            return x[0] @ x[1]
        if op == "Softmax":
            return _softmax(x[0], a, self.opset)
        if op == "LogSoftmax":
            return _softmax(x[0], a, self.opset, log=True)
        if op == "LpNormalization":
            p = a.get("p", 2)
            return x[0] / x[0].norm(p=p, dim=a.get("axis", -1), keepdim=True)
        if op == "Constant":
            return torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        raise ValueError(f"op type '{op}' (node '{n.name}') is not supported by onnx_torch.py")


def optimizer(kind, params, h):
    """torch.optim.SGD / Adam with Tailor's hyperparameters (both use PyTorch's definitions: L2 decay added to the gradient,
    SGD dampening 0; Adam's ε outside the bias-corrected square root)."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h.get("momentum", 0.0), nesterov=h.get("nesterov", False),
                               weight_decay=h.get("weight_decay", 0.0))
    if kind == "adam":
        return torch.optim.Adam(params, lr=h["lr"], betas=(h.get("beta1", 0.9), h.get("beta2", 0.999)), eps=h.get("epsilon", 1e-8),
                                weight_decay=h.get("weight_decay", 0.0))
    raise ValueError(f"optimizer '{kind}'")


def cross_entropy(suffix, cut_values, labels):
    """Tailor's categorical cross-entropy on the probabilities output: −mean log p[label]."""
    return -suffix.log_probabilities(*cut_values).gather(1, labels.view(-1, 1)).mean()
