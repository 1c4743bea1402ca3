"""From latent rows back to table rows: expected values, or draws from p(x | z).

Plain functions over an estimator's parts (the network, the column codec, the
device), used by ``inverse_transform`` and ``sample``.
"""

import numpy as np
import torch


def decode_latent(module, codec, Z, device, condition=None, draw=None):
    """Decode latent rows ``Z`` into a DataFrame of the table's columns.

    Expected values (the most probable category for a categorical column), or, when
    ``draw`` (a CPU ``torch.Generator``) is given, one draw x ~ p(x | z) per row.
    ``condition``: one-hot labels (a tensor) for a conditional network, or None.
    """
    module.to(device).eval()
    with torch.inference_mode():
        z = torch.as_tensor(np.asarray(Z, dtype=np.float32), device=device)
        out = module.decode(z, condition.to(device) if condition is not None else None)
        mean, prob, cats = module.likelihood.expected_values(out)
        if draw is not None:
            mean, prob, cats = sample_cells(module.likelihood, out, cats, draw)
    return codec.decode(
        mean.double().cpu().numpy(),
        prob.double().cpu().numpy(),
        [c.double().cpu().numpy() for c in cats],
    )


def sample_cells(likelihood, out, probs, generator):
    """Draw x ~ p(x | z); ``probs`` are the category probabilities already computed.

    Drawn from the CPU ``generator`` whatever the device, so a seed gives the same
    rows everywhere; a category is never the slot kept for unseen values.
    """
    mean, log_var, logits_b, _ = likelihood.split(out)
    noise = torch.randn(mean.shape, generator=generator).to(mean.device)
    values = mean + torch.exp(0.5 * log_var) * noise
    uniform = torch.rand(logits_b.shape, generator=generator).to(mean.device)
    bits = (uniform < torch.sigmoid(logits_b)).to(mean.dtype)
    onehots = []
    for p in probs:
        seen = p[:, :-1] / p[:, :-1].sum(dim=1, keepdim=True)
        pick = torch.multinomial(seen.cpu(), 1, generator=generator).squeeze(1)
        onehots.append(torch.nn.functional.one_hot(pick, p.shape[1]).to(mean.device).double())
    return values, bits, onehots
