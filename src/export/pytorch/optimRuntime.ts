/**
 * The optimisers, losses and metrics of the generated train.py, as the tfjs trainer computes them:
 *
 * - The optimisers are src/train/optimizers.ts' (tfjs-core 4.22's update rules, op for op, with
 *   Keras' defaults and epsilon 1e-7), not torch.optim's, which differ: tfjs' Adadelta scales by
 *   the accumulated squared gradient *before* this step's (a tfjs quirk kept here); its RMSprop
 *   divides by sqrt(v + eps) (torch: sqrt(v) + eps) and, centered, by sqrt(v - (mg² + eps)); its
 *   Adam divides the bias-corrected moments, m̂ / (sqrt(v̂) + eps) (torch puts eps beside sqrt(v)
 *   and scales by sqrt(1 - β2ᵗ) after), with 1 - β1ᵗ and 1 - β2ᵗ from β powers kept in float32 by
 *   repeated multiplication as tfjs keeps them. Every step is the same float32 operations in the
 *   same order, on the parameters' device, with no read-back to the host; each scalar divisor is a
 *   tensor on that device (CUDA turns a division by a host scalar into a multiplication by its
 *   reciprocal, which rounds differently).
 * - loss_fn and metric_sum are src/train/scoring.ts' lossFn and metricSum: the same clipping,
 *   formulas, reductions and (at the kinks) gradients.
 *
 * test/export/pytorchOptim.test.ts checks both engines agree step by step. The code uses only
 * `torch`, imported at the top of train.py by trainCode.ts.
 */

const lines = (code: string): string[] => code.replace(/^\n/, '').replace(/\n$/, '').split('\n');

export const OPTIM_RUNTIME: readonly string[] = lines(String.raw`
# ---------------------------------------------------------------------------------------------
# Optimisers: TensorFlow.js' update rules (tfjs-core 4.22) with Keras' defaults, as Latent Studio
# trains (src/train/optimizers.ts). Each is the same float32 operations in the same order as tfjs,
# so from the same gradients they give the same weights; none reads anything back to the host.


def _scalar_like(p, value):
    """A float32 0-dim tensor on p's device (a state value a step divides or multiplies by)."""
    return torch.full((), value, dtype=p.dtype, device=p.device)


class _TfjsOptimizer(torch.optim.Optimizer):
    """The loop every optimiser below shares: the closure, then update(p, g, state, group) for each parameter with a dense gradient."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Latent Studio's optimisers do not take sparse gradients")
                self.update(p, p.grad, self.state[p], group)
        return loss


class KerasAdadelta(_TfjsOptimizer):
    """tfjs' Adadelta: rho = 0.95, eps = 1e-7 (Keras'), lr = 1.0.

    update = sqrt(accum_var + eps) / sqrt(accum_grad + eps) * g, with accum_grad as it was before
    this step's gradient (as tfjs computes it; Keras uses the new one); then
    accum_grad = rho * accum_grad + (1 - rho) * g^2, accum_var = rho * accum_var + (1 - rho) * update^2,
    p -= lr * update.
    """

    def __init__(self, params, lr=1.0, rho=0.95, eps=1e-7):
        if lr < 0 or not 0 <= rho <= 1 or eps < 0:
            raise ValueError(f"Adadelta: invalid lr={lr}, rho={rho} or eps={eps}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    def update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if len(state) == 0:
            state["accum_grad"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["accum_var"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        accum_grad, accum_var = state["accum_grad"], state["accum_var"]
        update = (accum_var + eps).sqrt_().div_((accum_grad + eps).sqrt_()).mul_(g)
        accum_grad.mul_(rho).add_((g * g).mul_(1 - rho))
        accum_var.mul_(rho).add_((update * update).mul_(1 - rho))
        p.add_(update.mul_(-group["lr"]))


class KerasAdam(_TfjsOptimizer):
    """tfjs' Adam: beta1 = 0.9, beta2 = 0.999, eps = 1e-7 (Keras'), lr = 1e-3.

    m = beta1 * m + (1 - beta1) * g, v = beta2 * v + (1 - beta2) * g^2,
    p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps), where beta^t is kept (state
    "acc_beta1", "acc_beta2", on p's device) by multiplying by beta after each step, in float32.
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        if lr < 0 or not 0 <= beta1 < 1 or not 0 <= beta2 < 1 or eps < 0:
            raise ValueError(f"Adam: invalid lr={lr}, beta1={beta1}, beta2={beta2} or eps={eps}")
        super().__init__(params, dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps))

    def update(self, p, g, state, group):
        beta1, beta2, eps, neg_lr = group["beta1"], group["beta2"], group["eps"], -group["lr"]
        one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
        if len(state) == 0:
            state["m"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["v"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["acc_beta1"] = _scalar_like(p, beta1)
            state["acc_beta2"] = _scalar_like(p, beta2)
        m, v, acc_beta1, acc_beta2 = state["m"], state["v"], state["acc_beta1"], state["acc_beta2"]
        m.mul_(beta1).add_(g * one_minus_beta1)
        v.mul_(beta2).add_((g * g).mul_(one_minus_beta2))
        m_hat = m / (1 - acc_beta1)
        v_hat = v / (1 - acc_beta2)
        p.add_(m_hat.div_(v_hat.sqrt_().add_(eps)).mul_(neg_lr))
        acc_beta1.mul_(beta1)
        acc_beta2.mul_(beta2)


class KerasRMSprop(_TfjsOptimizer):
    """tfjs' RMSprop: rho (tfjs' decay) = 0.9, momentum = 0, eps = 1e-7 (Keras'), lr = 1e-3.

    rms = rho * rms + (1 - rho) * g^2; momentum = momentum * momentum_buffer + lr * g / sqrt(rms + eps)
    (centered: mg = rho * mg + (1 - rho) * g and lr * g / sqrt(rms - (mg^2 + eps)), as tfjs has
    it); p -= momentum_buffer. The buffer is kept (and multiplied) even when momentum is 0, as tfjs does.
    """

    def __init__(self, params, lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
        if lr < 0 or not 0 <= rho <= 1 or momentum < 0 or eps < 0:
            raise ValueError(f"RMSprop: invalid lr={lr}, rho={rho}, momentum={momentum} or eps={eps}")
        super().__init__(params, dict(lr=lr, rho=rho, momentum=momentum, eps=eps, centered=bool(centered)))

    def update(self, p, g, state, group):
        rho, one_minus_rho, momentum, eps, lr = group["rho"], 1 - group["rho"], group["momentum"], group["eps"], group["lr"]
        centered = group["centered"]
        if len(state) == 0:
            state["rms"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if centered and "mg" not in state:
            state["mg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        rms, moments = state["rms"], state["momentum"]
        rms.mul_(rho).add_((g * g).mul_(one_minus_rho))
        if centered:
            mg = state["mg"]
            mg.mul_(rho).add_(g * one_minus_rho)
            contribution = (g * lr).div_((rms - (mg * mg).add_(eps)).sqrt_())
        else:
            contribution = (g * lr).div_((rms + eps).sqrt_())
        moments.mul_(momentum).add_(contribution)
        p.sub_(moments)


class KerasSGD(_TfjsOptimizer):
    """tfjs' SGD: p = (-lr) * g + p (no momentum), lr = 0.01."""

    def __init__(self, params, lr=0.01):
        if lr < 0:
            raise ValueError(f"SGD: invalid lr={lr}")
        super().__init__(params, dict(lr=lr))

    def update(self, p, g, state, group):
        p.add_(g * -group["lr"])


OPTIMIZERS = {"adadelta": KerasAdadelta, "adam": KerasAdam, "rmsprop": KerasRMSprop, "sgd": KerasSGD}


def make_optimizer(name, params, lr=None):
    """The optimiser of a stage (its Keras defaults; lr None: the Keras default learning rate)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params) if lr is None else OPTIMIZERS[name](params, lr=lr)


# ---------------------------------------------------------------------------------------------
# Losses and metrics (src/train/scoring.ts lossFn and metricSum).

EPSILON = 1e-7  # Keras' epsilon, which the cross-entropies clip probabilities to


class _BinaryCrossentropy(torch.autograd.Function):
    """tfjs' binary cross-entropy, mean over every value, as one autograd node.

    tfjs computes it from the clipped probability p through the logit z = log(p / (1 - p)) and the
    stable sigmoid cross-entropy max(z, 0) - z y + log(1 + exp(-|z|)) (eight ops, each kept for its
    gradient). Both simplify exactly: the value to -(y log p + (1 - y) log(1 - p)) and the
    gradient, at the kinks too (tfjs' relu and abs at z = 0 give 1/2 - y, which is p - y), to
    (p - y) / (p (1 - p)) where the clipping lets it through ([1e-7, 1 - 1e-7], ends included) and 0
    outside. Four ops each way instead of the graph of eight: the same numbers to float32
    rounding, a fraction of the time.
    """

    @staticmethod
    def forward(ctx, y_pred, y_true):
        p = y_pred.clamp(EPSILON, 1 - EPSILON)
        ctx.save_for_backward(y_pred, p, y_true)
        per_value = torch.neg(y_true * torch.log(p) + (1 - y_true) * torch.log1p(torch.neg(p)))
        return per_value.mean()

    @staticmethod
    def backward(ctx, grad):
        y_pred, p, y_true = ctx.saved_tensors
        inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
        scale = grad / y_pred.numel()
        g = torch.where(inside, (p - y_true) / (p * (1 - p)), torch.zeros((), dtype=p.dtype, device=p.device))
        return g * scale, None


def loss_fn(name, y_true, y_pred, logits=None):
    """A stage's loss (a 0-dim tensor), as Latent Studio computes it.

    binaryCrossentropy: p clipped to [1e-7, 1 - 1e-7], -(y log p + (1 - y) log(1 - p)) averaged
    over every value (tfjs' formula through the logit, simplified: see _BinaryCrossentropy). meanSquaredError: the mean of (y - p)^2 over every value. categoricalCrossentropy:
    with logits (a softmax Dense's), -sum(y * log_softmax(logits)) over the last axis, unclipped;
    otherwise p / sum(p) clipped to [1e-7, 1 - 1e-7] and -sum(y * log(p)); averaged over the rest.
    """
    y_true = y_true.to(y_pred.dtype)
    if name == "binaryCrossentropy":
        return _BinaryCrossentropy.apply(y_pred, y_true)
    if name == "meanSquaredError":
        return (y_true - y_pred).square().mean()
    if name == "categoricalCrossentropy":
        if logits is not None:
            return torch.neg((y_true * torch.log_softmax(logits, -1)).sum(-1)).mean()
        p = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPSILON, 1 - EPSILON)
        return torch.neg((y_true * torch.log(p)).sum(-1)).mean()
    raise ValueError(f"unknown loss {name!r}")


def metric_sum(name, y_true, y_pred):
    """A metric summed over the batch (a 0-dim float32 tensor), so epoch means weigh a short last batch right."""
    n = y_true.shape[0]
    y_true = y_true.to(y_pred.dtype)
    if name == "accuracy":
        return (y_true.argmax(-1) == y_pred.argmax(-1)).to(torch.float32).sum()
    if name == "meanSquaredError":
        return (y_true - y_pred).square().mean() * n
    if name == "meanAbsoluteError":
        return (y_true - y_pred).abs().mean() * n
    raise ValueError(f"unknown metric {name!r}")
`);
