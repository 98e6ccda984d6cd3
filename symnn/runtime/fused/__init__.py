"""The fused engine: `Sequential.fit` as one compiled loop, one job per module.

- `spec`: what the loop covers, and a fit's spec (layers, loss, optimizer kernel);
- `template`: the training loop as a real function, with placeholder calls;
- `assemble`: the template with the generated kernels inlined (symnn.ir), as module text;
- `intrinsics`: the views and the direct BLAS call the loop uses (pure-Python stand-ins without the JIT);
- `loader`: the module in the cache folder, compiled once;
- `session`: what a model keeps between fits (layout, flat arrays, optimizer state, per-step scalars);
- `run`: `fused_fit`, the chunks of epochs;
- `goldens`: loops written into generated/fused/ by `symnn generate` (process replay).
"""

from symnn.runtime.fused.loader import load_module, module_path
from symnn.runtime.fused.run import fused_fit
from symnn.runtime.fused.spec import spec_of, unsupported

__all__ = ["fused_fit", "load_module", "module_path", "spec_of", "unsupported"]
