"""Fused loops written beside the kernels as goldens (process replay): a change to the template, the
assembler, the intrinsics or a kernel shows in `symnn generate --check` as a changed loop, before users
compile it."""

from __future__ import annotations

from symnn.runtime.fused.assemble import fused_module

#: name -> (spec, direct_gemm).
GOLDEN_FUSED: dict[str, tuple[dict, bool]] = {
    "tanh-mse-adam": ({"layers": [("dense", 2, 8), ("activation", "tanh"), ("dense", 8, 1)],
                       "loss": "mse", "optimizer": "adam_step"}, True),
    "tanh-mse-adam-npdot": ({"layers": [("dense", 2, 8), ("activation", "tanh"), ("dense", 8, 1)],
                             "loss": "mse", "optimizer": "adam_step"}, False),
    "relu-cross_entropy-sgd_momentum": ({"layers": [("dense", 4, 8), ("activation", "relu"), ("dense", 8, 3)],
                                         "loss": "cross_entropy", "optimizer": "sgd_momentum_step"}, True),
    "relu-cross_entropy-sgd_momentum-validation": ({"layers": [("dense", 4, 8), ("activation", "relu"), ("dense", 8, 3)],
                                                    "loss": "cross_entropy", "optimizer": "sgd_momentum_step",
                                                    "validation": True}, True),
    "gelu-huber-sgd_nesterov": ({"layers": [("dense", 2, 8), ("activation", "gelu"), ("dense", 8, 1)],
                                 "loss": "huber", "optimizer": "sgd_nesterov_step"}, True),
    "sigmoid_elu-hinge_multi-rmsprop": ({"layers": [("dense", 3, 8), ("activation", "sigmoid"), ("dense", 8, 8),
                                                    ("activation", "elu"), ("dense", 8, 4)],
                                         "loss": "hinge", "optimizer": "rmsprop_centered_momentum_step"}, True),
}


#: name -> (activation, loss, optimizer kernel), the activation or the loss a user's formula: goldens whose
#: formula kernels `symnn generate` derives as symnn.runtime.custom derives them at training time.
GOLDEN_FORMULA_FUSED: dict[str, tuple[str, str, str]] = {
    "formula_swish-binary_cross_entropy-adam": ("x/(1 + exp(-x))", "binary_cross_entropy", "adam_step"),
    "tanh-formula_logcosh-adam": ("tanh", "log(cosh(z - t))", "adam_step"),
}


def golden_files(kernel_files: dict[str, str]) -> dict[str, str]:
    """`fused/<name>.py` for each golden, assembled from the kernel texts `symnn generate` is writing
    (relative path -> text), so they follow the kernels beside them."""
    from symnn.runtime import custom

    files = dict(kernel_files)
    specs = dict(GOLDEN_FUSED)
    for name, (act, loss, optimizer) in GOLDEN_FORMULA_FUSED.items():
        formulas = {}
        if custom.is_formula(act):
            formulas[custom.activation_name(act)] = act
            files[f"activations/{custom.activation_name(act)}.py"] = custom.activation_source(act)
            act = custom.activation_name(act)
        if custom.is_loss_formula(loss):
            formulas[custom.loss_name(loss)] = loss
            files[f"losses/{custom.loss_name(loss)}.py"] = custom.loss_source(loss)
            loss = custom.loss_name(loss)
        specs[name] = ({"layers": [("dense", 2, 8), ("activation", act), ("dense", 8, 1)], "loss": loss,
                        "optimizer": optimizer, "formulas": formulas}, True)

    def source(module: str) -> str:
        rel = module.replace(".", "/")
        return files[f"{rel}.py"] if f"{rel}.py" in files else files[f"{rel}/__init__.py"]

    return {f"fused/{name}.py": fused_module(spec, direct_gemm=direct, source=source)
            for name, (spec, direct) in specs.items()}


__all__ = ["GOLDEN_FORMULA_FUSED", "GOLDEN_FUSED", "golden_files"]
