"""Adam and Adagrad, written for anovae's small networks.

Why not ``torch.optim``: constructing any of its optimizers imports ``torch._dynamo``
(about 1.3 s on the 2-core reference machine, more than a whole training run on a
small table), because each step is wrapped for graph compilation. These two classes
apply the same update rules (Kingma & Ba 2015 for Adam, Duchi et al. 2011 for Adagrad,
with torch's defaults: L2 ``weight_decay`` added to the gradient, ``eps`` outside the
square root for Adam and inside the accumulator's root for Adagrad) on one flat
buffer that holds every parameter (see ``_flatten``), so a step costs a handful of
kernel launches whatever the number of parameters. Parameters that cannot share the
buffer are stepped with the multi-tensor ``torch._foreach_*`` kernels that
``torch.optim`` itself uses.

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
        self.flat = _flatten(self.params)
        self._pointers = [p.data_ptr() for p in self.params]

    def _zeros(self):
        """One state tensor per parameter: views of one flat buffer when the
        parameters are (see ``_flatten``), so the state is also one tensor."""
        if self.flat is None:
            return None, [torch.zeros_like(p) for p in self.params]
        buffer = torch.zeros_like(self.flat)
        return buffer, _views(buffer, self.params)

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

    def _flat_gradient(self, given=None):
        """Every gradient in one flat tensor (weight decay added), or None when the
        one-buffer step does not apply: a parameter has no gradient, or the
        parameters no longer live in the buffer (the module was moved). ``given``:
        the gradients already in one flat tensor, laid out as the buffer."""
        if self.flat is None or (given is None and any(p.grad is None for p in self.params)):
            return None
        if any(p.data_ptr() != ptr for p, ptr in zip(self.params, self._pointers)):
            return None
        grad = given if given is not None else torch.cat([p.grad.reshape(-1) for p in self.params])
        if self.weight_decay:
            grad = torch.add(grad, self.flat, alpha=self.weight_decay)
        return grad


def _flatten(params):
    """Move ``params`` into one contiguous buffer, each parameter a view of it, and
    return the buffer (None when they differ in device or dtype).

    On a CPU the ``_foreach`` kernels loop over the tensors one by one, with a few
    microseconds of dispatch each: for the default network an optimizer step was
    about 40 small operations, a fifth of the whole training step. On one buffer
    it is eight, whatever the number of layers. The values do not change, only
    where they are stored; every element gets the same operations as before.
    """
    if not params or len({(p.device, p.dtype) for p in params}) != 1:
        return None
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        for p, view in zip(params, _views(flat, params)):
            p.data = view
    return flat


def _views(buffer, params):
    views, start = [], 0
    for p in params:
        views.append(buffer[start : start + p.numel()].view_as(p))
        start += p.numel()
    return views


class Adam(_Optimizer):
    """Adam with bias correction; ``betas=(0.9, 0.999)``, ``eps=1e-8`` as in the paper."""

    def __init__(self, parameters, lr=1e-3, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(parameters, lr, weight_decay)
        self.betas = tuple(float(b) for b in betas)
        self.eps = float(eps)
        self.first_flat, self.first = self._zeros()
        self.second_flat, self.second = self._zeros()
        self.steps = [0] * len(self.params)
        # The update in one kernel where this torch has it (see _fused_adam), for
        # parameters of the first one's device and dtype (all of them, in one buffer).
        like = self.flat if self.flat is not None else (self.params[0] if self.params else None)
        self._fused_step = _fused_adam(like) if like is not None else None
        self._fused_kind = None if like is None else (like.device, like.dtype)

    @torch.no_grad()
    def step(self, flat_grad=None):
        """One update. ``flat_grad``: every parameter's gradient in one tensor, laid
        out as ``_flatten`` lays out the parameters (saves gathering them)."""
        beta1, beta2 = self.betas
        grad = self._flat_gradient(flat_grad)
        if grad is not None and len(set(self.steps)) == 1:
            # Every parameter at the same step: the same update on the buffer.
            self.steps = [self.steps[0] + 1] * len(self.steps)
            t = self.steps[0]
            if self._fused_step is not None:
                self._fused_step([self.flat], [grad], [self.first_flat], [self.second_flat], t, self)
                return
            self.first_flat.lerp_(grad, 1.0 - beta1)
            self.second_flat.mul_(beta2)
            self.second_flat.addcmul_(grad, grad, value=1.0 - beta2)
            denom = self.second_flat.sqrt()
            denom.div_(math.sqrt(1.0 - beta2**t))
            denom.add_(self.eps)
            self.flat.addcdiv_(self.first_flat, denom, value=-self.lr / (1.0 - beta1**t))
            return
        index, params, grads = self._active()
        if not params:
            return
        first = [self.first[i] for i in index]
        second = [self.second[i] for i in index]
        # Parameters usually share one step count; group them when they do not.
        groups = {}
        for position, i in enumerate(index):
            self.steps[i] += 1
            groups.setdefault(self.steps[i], []).append(position)
        if self._fused_step is not None and all((p.device, p.dtype) == self._fused_kind for p in params):
            # The kernel of the one-buffer step, so that both give the same numbers.
            for t, positions in groups.items():
                self._fused_step([params[k] for k in positions], [grads[k] for k in positions],
                                 [first[k] for k in positions], [second[k] for k in positions], t, self)
            return
        torch._foreach_lerp_(first, grads, 1.0 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, value=1.0 - beta2)
        for t, positions in groups.items():
            correction1 = 1.0 - beta1**t
            correction2 = 1.0 - beta2**t
            p = [params[k] for k in positions]
            m = [first[k] for k in positions]
            denom = torch._foreach_sqrt([second[k] for k in positions])
            torch._foreach_div_(denom, math.sqrt(correction2))
            torch._foreach_add_(denom, self.eps)
            torch._foreach_addcdiv_(p, m, denom, value=-self.lr / correction1)


def _fused_adam(like):
    """A function ``(params, grads, firsts, seconds, step, adam)`` (lists of tensors
    of ``like``'s device and dtype) doing Adam's update in the single kernel
    ``torch._fused_adam_`` (the one ``torch.optim.Adam(fused=True)`` runs), or None
    where this torch lacks it for that device and dtype or computes something else.

    Why: on a CPU the seven operations of the update cost about 37 microseconds
    for the default network of a 100-column table, the fused step 15; a training
    step there is about 650. The update is the same rule (``eps`` outside the root,
    L2 decay already in the gradient); it is checked once, on a few numbers,
    against the operations it replaces, and any difference or error keeps those.
    """
    kernel = getattr(torch, "_fused_adam_", None)
    if kernel is None:
        return None
    step_count = torch.zeros((), dtype=torch.float32, device=like.device)

    def step(params, grads, firsts, seconds, t, adam):
        step_count.fill_(t)
        beta1, beta2 = adam.betas
        kernel(params, grads, firsts, seconds, [], [step_count] * len(params), lr=adam.lr, beta1=beta1,
               beta2=beta2, weight_decay=0.0, eps=adam.eps, amsgrad=False, maximize=False)

    class _Probe:
        lr, betas, eps = 0.1, (0.9, 0.999), 1e-8

    param = torch.tensor([0.5, -1.0, 2.0], dtype=like.dtype, device=like.device)
    grad = torch.tensor([0.25, 3.0, -1e-3], dtype=like.dtype, device=like.device)
    first, second = torch.zeros_like(param), torch.zeros_like(param)
    try:
        for t in (1, 2):
            step([param], [grad], [first], [second], t, _Probe)
    except Exception:  # noqa: BLE001 - a private kernel: any failure means "not here"
        return None
    # The same two steps by the unfused operations of Adam.step.
    expected, m, v = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), 0.0, 0.0
    g = grad.detach().to("cpu", torch.float64)
    for t in (1, 2):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        expected = expected - 0.1 / (1 - 0.9**t) * m / ((v / (1 - 0.999**t)).sqrt() + 1e-8)
    if not torch.allclose(param.detach().to("cpu", torch.float64), expected, rtol=1e-5, atol=1e-6):
        return None
    return step


class Adagrad(_Optimizer):
    """Adagrad (the AEVB paper's optimizer), accumulator starting at zero."""

    def __init__(self, parameters, lr=1e-2, weight_decay=0.0, eps=1e-10):
        super().__init__(parameters, lr, weight_decay)
        self.eps = float(eps)
        self.sums_flat, self.sums = self._zeros()

    @torch.no_grad()
    def step(self, flat_grad=None):
        """One update; ``flat_grad`` as in :meth:`Adam.step`."""
        grad = self._flat_gradient(flat_grad)
        if grad is not None:
            self.sums_flat.addcmul_(grad, grad, value=1.0)
            denom = self.sums_flat.sqrt()
            denom.add_(self.eps)
            self.flat.addcdiv_(grad, denom, value=-self.lr)
            return
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
