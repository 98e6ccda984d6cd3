"""Facts live with their definitions: declared in symbolic/, exported by `symnn generate`, read by the runtime."""

from __future__ import annotations

import pytest
from symnn.generated import activations as act_index
from symnn.generated import losses as loss_index
from symnn.generated import optimizers as opt_index

from symnn.runtime import kernels
from symnn.runtime.init import resolve_auto
from symnn.runtime.losses import CLASSIFICATION, Loss
from symnn.runtime.optimizers import CLASSES, OPTIMIZER_NAMES
from symnn.symbolic import activations, losses, optimizers


@pytest.mark.parametrize(("name", "n_outputs", "expected"), [
    ("mse", 3, ("mse", "mse", False)),
    ("cross_entropy", 4, ("cross_entropy", "cross_entropy", True)),
    ("binary_cross_entropy", 1, ("binary_cross_entropy", "binary_cross_entropy", False)),
    ("hinge", 1, ("hinge", "hinge", False)),
    ("hinge", 3, ("hinge", "multi_margin", True)),  # hinge with C outputs is multi_margin
    ("poisson_nll", 2, ("poisson_nll", "poisson_nll", False)),
])
def test_loss_kernel_is_module_prefix_and_layout(name, n_outputs, expected):
    assert kernels.loss_kernel(name, n_outputs) == expected


def test_every_loss_kernel_named_by_the_facts_exists():
    for name in loss_index.NAMES:
        for n_outputs in (1, 3):
            module, prefix, _ = kernels.loss_kernel(name, n_outputs)
            mod = kernels.generated(f"losses.{module}")
            assert all(hasattr(mod, f"{prefix}_{part}") for part in ("forward", "backward", "value_and_grad"))


def test_loss_facts_are_exported_as_declared():
    assert loss_index.NAMES == losses.LOSS_NAMES
    assert set(CLASSIFICATION) == {n for n, f in losses.FACTS.items() if f.classifies}
    assert loss_index.WIDE == {"hinge": "multi_margin"}
    assert loss_index.OUTPUTS["binary_cross_entropy"] == (1, 1) and loss_index.OUTPUTS["cross_entropy"] == (2, None)


@pytest.mark.parametrize(("name", "n_outputs", "message"), [
    ("binary_cross_entropy", 2, "binary_cross_entropy needs 1 output, the model has 2; use cross_entropy"),
    ("cross_entropy", 1, "cross_entropy needs at least 2 outputs (one per class), the model has 1; "
                         "use binary_cross_entropy"),
])
def test_output_width_rule_comes_from_the_facts(name, n_outputs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Loss(name, n_outputs)


def test_init_family_is_declared_with_the_activations():
    assert act_index.INIT == activations.init_families()
    assert {n for n, family in act_index.INIT.items() if family == "he"} == set(activations.HE_INIT)
    assert resolve_auto("relu") == "he" and resolve_auto("tanh") == "xavier"
    assert resolve_auto("x*tanh(x)") == "xavier"


def test_optimizer_facts_are_exported_as_declared():
    assert opt_index.NAMES == tuple(optimizers.OPTIMIZERS)
    for name, d in optimizers.OPTIMIZERS.items():
        assert CLASSES[name].__name__ == d.class_name == opt_index.CLASSES[name]
        assert opt_index.DEFAULTS[name] == dict(d.defaults)
        mod = kernels.generated(f"optimizers.{name}")
        assert mod.VARIANTS == {k.name: k.options for k in d.kernels()}
    assert OPTIMIZER_NAMES[:3] == ("sgd", "momentum", "nesterov")  # presets follow their optimizer
    assert set(OPTIMIZER_NAMES) == set(opt_index.NAMES) | set(opt_index.PRESETS)


def test_cli_help_lists_what_the_facts_list(capsys):
    from symnn.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in OPTIMIZER_NAMES)
    assert all(name in text for name in loss_index.NAMES) and "multi_margin (hinge" in text
