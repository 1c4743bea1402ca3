"""Adam and Adagrad, written for anovae's small networks.

Why not ``torch.optim``: constructing any of its optimizers imports ``torch._dynamo``
(about 1.3 s on the 2-core reference machine, more than a whole training run on a
small table), because each step is wrapped for graph compilation. These two classes
apply the same update rules (Kingma & Ba 2015 for Adam, Duchi et al. 2011 for Adagrad,
with torch's defaults: L2 ``weight_decay`` added to the gradient, ``eps`` outside the
square root for Adam and inside the accumulator's root for Adagrad) with the
multi-tensor ``torch._foreach_*`` kernels that ``torch.optim`` itself uses, so a step
costs a handful of kernel launches whatever the number of parameters.

They implement what the training loop needs: ``zero_grad`` and ``step``. Parameters
without a gradient in a step are left untouched, and their moments are not decayed,
as in ``torch.optim``.
"""

import math

import torch

__all__ = ["Adagrad", "Adam", "OPTIMIZERS"]


class _Optimizer:
    def __init__(self, parameters, lr, weight_decay=0.0):
        self.params = [p for p in parameters if p.requires_grad]
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _active(self):
        """Indices, parameters and gradients of the parameters that have a gradient."""
        index = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in index]
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        return index, params, grads


class Adam(_Optimizer):
    """Adam with bias correction; ``betas=(0.9, 0.999)``, ``eps=1e-8`` as in the paper."""

    def __init__(self, parameters, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(parameters, lr, weight_decay)
        self.betas = tuple(float(b) for b in betas)
        self.eps = float(eps)
        self.first = [torch.zeros_like(p) for p in self.params]
        self.second = [torch.zeros_like(p) for p in self.params]
        self.steps = [0] * len(self.params)

    @torch.no_grad()
    def step(self):
        index, params, grads = self._active()
        if not params:
            return
        beta1, beta2 = self.betas
        first = [self.first[i] for i in index]
        second = [self.second[i] for i in index]
        torch._foreach_lerp_(first, grads, 1.0 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, value=1.0 - beta2)
        # Parameters usually share one step count; group them when they do not.
        groups = {}
        for position, i in enumerate(index):
            self.steps[i] += 1
            groups.setdefault(self.steps[i], []).append(position)
        for t, positions in groups.items():
            correction1 = 1.0 - beta1**t
            correction2 = 1.0 - beta2**t
            p = [params[k] for k in positions]
            m = [first[k] for k in positions]
            denom = torch._foreach_sqrt([second[k] for k in positions])
            torch._foreach_div_(denom, math.sqrt(correction2))
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(p, m, denom, value=-self.lr / correction1)


class Adagrad(_Optimizer):
    """Adagrad (the AEVB paper's optimizer), accumulator starting at zero."""

    def __init__(self, parameters, lr=1e-2, weight_decay=0.0, eps=1e-10):
        super().__init__(parameters, lr, weight_decay)
        self.eps = float(eps)
        self.sums = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        index, params, grads = self._active()
        if not params:
            return
        sums = [self.sums[i] for i in index]
        torch._foreach_addcmul_(sums, grads, grads, value=1.0)
        denom = torch._foreach_sqrt(sums)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, grads, denom, value=-self.lr)


#: Optimizer names accepted by the estimators' ``optimizer`` parameter.
OPTIMIZERS = {"adam": Adam, "adagrad": Adagrad}
