"""
icl-lab's one-layer model as a PyTorch module, self-contained (torch, safetensors; no other code).

The seed notebook's query-only multi-head attention with the seed's state_dict names, so an icl-lab
model file loads with `load_state_dict(strict=True)`:

    attention_layer.q_proj.weight  (E*H, E)   head h = rows h*E:(h+1)*E
    attention_layer.k_proj.weight  (E*H, E)
    attention_layer.v_proj.weight  (E*H, E)
    attention_layer.o_proj.weight  (N, E*H)   N = 1 (one task) or the number of tasks
    final_linear.weight            (N, E)     the seed creates it for one layer too and never uses it

Every head has the full width E = d + N (not E / H). For prompts z (B, L, E) with rows [x_i, y_i] and a
query z_q (B, 1, E) = [x_q, 0]:

    s_h = (z_q W_Q^h)(z W_K^h)^T / sqrt(E)              scores over the L context tokens
    a_h = softmax(s_h)        (softmax, the seed's)
        = s_h / L             (attention "linear")
        = s_h                 (attention "linear-sum")
    out = concat_h(a_h (z W_V^h)) W_O^T                 (B, 1, N)

    from icl_lab_torch import load_model
    model = load_model("runs/h2/model.safetensors")      # or a run directory
    y_hat = model(z_q, z)

Run `python python/icl_lab_torch.py MODEL PROMPTS` to print the model's outputs on an
`icl-lab prompts` file (test/python.torch.test.ts compares them with `icl-lab predict`).
"""
import math
import os
import sys

import torch
from torch import nn

ATTENTIONS = ("softmax", "linear", "linear-sum")


class QueryAttention(nn.Module):
    """One layer of query-only multi-head attention (the seed's MultiHeadAttention, bias-free)."""

    def __init__(self, n_embd, n_head, n_out=1, attention="softmax"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention {attention!r}: one of {', '.join(ATTENTIONS)}")
        self.n_embd, self.n_head, self.attention = n_embd, n_head, attention
        self.q_proj = nn.Linear(n_embd, n_embd * n_head, bias=False)
        self.k_proj = nn.Linear(n_embd, n_embd * n_head, bias=False)
        self.v_proj = nn.Linear(n_embd, n_embd * n_head, bias=False)
        self.o_proj = nn.Linear(n_embd * n_head, n_out, bias=False)

    def forward(self, z_q, z):
        B, L, E, H = z.shape[0], z.shape[1], self.n_embd, self.n_head

        def heads(t):  # (B, T, H*E) -> (B, H, T, E)
            return t.view(B, t.shape[1], H, E).transpose(1, 2)

        q, k, v = heads(self.q_proj(z_q)), heads(self.k_proj(z)), heads(self.v_proj(z))
        s = q @ k.transpose(-2, -1) / math.sqrt(E)  # (B, H, 1, L)
        a = torch.softmax(s, dim=-1) if self.attention == "softmax" else s / L if self.attention == "linear" else s
        out = (a @ v).transpose(1, 2).reshape(B, 1, H * E)
        return self.o_proj(out)


class OneLayerModel(nn.Module):
    """The seed's MultiHeadAttentionStack with n_layers = 1: the attention layer plus the unused final_linear."""

    def __init__(self, d, n_head, n_out=1, attention="softmax"):
        super().__init__()
        self.attention_layer = QueryAttention(d + n_out, n_head, n_out, attention)
        self.final_linear = nn.Linear(d + n_out, n_out, bias=False)

    def forward(self, z_q, z):
        return self.attention_layer(z_q, z)


def load_model(path, dtype=torch.float64):
    """An icl-lab model.safetensors (or a run directory holding one), in `dtype`."""
    from safetensors import safe_open

    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k).to(dtype) for k in f.keys()}
    if "attention_layer.q_proj.weight" not in state:
        raise ValueError(f"{path}: no attention_layer.q_proj.weight (a multi-layer stack is not this module)")
    n_out, hidden = state["attention_layer.o_proj.weight"].shape
    E = state["attention_layer.q_proj.weight"].shape[1]
    model = OneLayerModel(E - n_out, hidden // E, n_out, meta.get("attention", "softmax")).to(dtype)
    state.setdefault("final_linear.weight", torch.zeros(n_out, E, dtype=dtype))
    model.load_state_dict(state, strict=True)
    return model


def main(argv):
    import json

    from safetensors.torch import load_file

    if len(argv) != 2:
        print("usage: python python/icl_lab_torch.py MODEL_OR_RUN_DIR PROMPTS.safetensors", file=sys.stderr)
        return 2
    model = load_model(argv[0])
    p = load_file(argv[1])
    with torch.no_grad():
        out = model(p["z_q"].to(torch.float64), p["z"].to(torch.float64))
    print(json.dumps({"output": out.flatten().tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
