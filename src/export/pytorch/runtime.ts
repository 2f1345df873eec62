/**
 * The fixed parts of the generated model.py: the layers PyTorch lacks or computes otherwise than
 * Keras / TensorFlow.js (only those a graph uses are written), and the weight I/O in Latent
 * Studio's weights format (a JSON manifest and little-endian float32 values, the tfjs encoding).
 */

const lines = (code: string): string[] => code.replace(/^\n/, '').replace(/\n$/, '').split('\n');

export type PreludeHelper = 'KerasBatchNorm' | 'GaussianNoise' | 'MaskingNoise' | 'Sampling';

export const PRELUDE: Readonly<Record<PreludeHelper, readonly string[]>> = {
  KerasBatchNorm: lines(String.raw`
class KerasBatchNorm(nn.Module):
    """BatchNormalization as TensorFlow.js computes it, over the channel axis.

    Training: batch mean and biased variance; the moving statistics move by
    moving -= (moving - batch) * (1 - momentum) (PyTorch's momentum is 1 - Keras', and nn.BatchNorm
    would update with the unbiased variance). Otherwise the moving statistics.
    """

    def __init__(self, features, momentum=0.99, epsilon=1e-3, axis=1):
        super().__init__()
        self.momentum, self.epsilon, self.axis = momentum, epsilon, axis
        self.weight = nn.Parameter(torch.ones(features))  # gamma
        self.bias = nn.Parameter(torch.zeros(features))  # beta
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x):
        axis = self.axis % x.dim()
        shape = [1] * x.dim()
        shape[axis] = -1
        if self.training:
            dims = [d for d in range(x.dim()) if d != axis]
            mean = x.mean(dim=dims)
            var = (x - mean.reshape(shape)).square().mean(dim=dims)
            with torch.no_grad():
                self.running_mean.sub_((self.running_mean - mean) * (1 - self.momentum))
                self.running_var.sub_((self.running_var - var) * (1 - self.momentum))
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.epsilon) * self.weight
        return (x - mean.reshape(shape)) * scale.reshape(shape) + self.bias.reshape(shape)
`),
  GaussianNoise: lines(String.raw`
class GaussianNoise(nn.Module):
    """Adds N(0, stddev^2) noise while training; passes the input through otherwise."""

    def __init__(self, stddev):
        super().__init__()
        self.stddev = stddev

    def forward(self, x):
        return x + torch.randn_like(x) * self.stddev if self.training else x
`),
  MaskingNoise: lines(String.raw`
class MaskingNoise(nn.Module):
    """A denoising autoencoder's corruption: each value is 0 with probability rate while training (no rescaling)."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate <= 0:
            return x
        return x * (torch.rand_like(x) >= self.rate).to(x.dtype)
`),
  Sampling: lines(String.raw`
class Sampling(nn.Module):
    """A variational code: z = z_mean + exp(z_log_var / 2) * eps while training, z_mean otherwise.

    Each forward pass leaves its loss term in self.kl: the KL divergence from N(0, 1) summed over the
    code, averaged over the batch, times kl_weight / values_per_sample (the reconstruction losses are
    means over values, so this is the Keras VAE loss divided by the number of values).
    added_losses(model) collects it for the training loss.
    """

    def __init__(self, kl_weight, values_per_sample):
        super().__init__()
        self.kl_weight, self.values_per_sample = kl_weight, values_per_sample
        self.kl = None

    def forward(self, z_mean, z_log_var):
        if self.kl_weight > 0:
            per_sample = (1 + z_log_var - z_mean.square() - z_log_var.exp()).flatten(1).sum(1)
            self.kl = per_sample.mean() * (-0.5 * self.kl_weight / self.values_per_sample)
        if self.training:
            return z_mean + torch.exp(z_log_var * 0.5) * torch.randn_like(z_mean)
        return z_mean
`),
};

/** Always written: input checks, Keras' initialisation, the extra loss terms. */
export const COMMON = lines(String.raw`
def _check_input(x, shape, model):
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"The {model} model takes a batch of shape (N, {', '.join(map(str, shape))}) but got {tuple(x.shape)}")


def keras_init(module):
    """Keras' defaults: Glorot-uniform kernels, zero biases (BatchNormalization: ones and zeros)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def added_losses(model):
    """The loss terms the last forward pass of model added (a variational code's KL), or None."""
    terms = [m.kl for m in model.modules() if getattr(m, "kl", None) is not None]
    return sum(terms) if terms else None
`);

export const WEIGHT_IO = lines(String.raw`
# Weights files: a JSON manifest {"weightsFile": "<name>.bin", "weights": [{"name", "shape", "dtype"}]}
# and the values, little-endian, one after another (the TensorFlow.js encoding). Layer weights are
# named "layer/<layer name>/<index>" in Keras' order and layout: Dense kernel (in, out), Conv2D kernel
# (kh, kw, in, out), Conv2DTranspose kernel (kh, kw, out, in), then the bias; BatchNormalization
# gamma, beta, moving mean, moving variance. PyTorch keeps kernels as (out, in), (out, in, kh, kw)
# and (in, out, kh, kw).

_DTYPES = {"float32": np.float32, "int32": np.int32}


def _slots(module):
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        return [module.weight] + ([module.bias] if module.bias is not None else [])
    if type(module).__name__ == "KerasBatchNorm":
        return [module.weight, module.bias, module.running_mean, module.running_var]
    return []


def _to_torch(module, index, value):
    if index == 0 and isinstance(module, nn.Linear):
        return value.T
    if index == 0 and isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        return value.transpose(3, 2, 0, 1)
    return value


def _to_keras(module, index, value):
    if index == 0 and isinstance(module, nn.Linear):
        return value.T
    if index == 0 and isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        return value.transpose(2, 3, 1, 0)
    return value


def _layers(models):
    """(layer name, module) of every layer with weights, once each, across the models given."""
    if isinstance(models, nn.Module):
        models = {"model": models}
    found = {}
    for model in models.values():
        for attr, module in model.named_children():
            if attr in LAYER_NAMES and _slots(module):
                found[LAYER_NAMES[attr]] = module
    return found


def read_weights_file(manifest_path):
    """{name: numpy array} of a weights manifest (a run's checkpoint/checkpoint.json, an export's weights.json)."""
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("weights"), list) or not isinstance(manifest.get("weightsFile"), str):
        raise ValueError(f"{manifest_path}: not a weights manifest (needs weightsFile and weights)")
    data_path = os.path.join(os.path.dirname(manifest_path), manifest["weightsFile"])
    data = np.fromfile(data_path, dtype=np.uint8)
    arrays, offset = {}, 0
    for spec in manifest["weights"]:
        dtype = _DTYPES.get(spec.get("dtype"))
        if dtype is None:
            raise ValueError(f"{manifest_path}: {spec.get('name')}: dtype {spec.get('dtype')!r} is not float32 or int32")
        count = int(np.prod(spec["shape"], dtype=np.int64))
        end = offset + count * 4
        if end > data.size:
            raise ValueError(f"{data_path}: ends at byte {data.size}, but {spec['name']} needs bytes {offset} to {end}: the file is truncated")
        arrays[spec["name"]] = data[offset:end].view(dtype).reshape(spec["shape"])
        offset = end
    return arrays


def load_tfjs_weights(models, manifest_path, strict=True):
    """Loads layer weights from a weights manifest into the models (a dict from build_models, or one model).

    strict: every layer with weights must be in the file. Returns the names of the layers loaded.
    """
    arrays = read_weights_file(manifest_path)
    loaded = []
    for name, module in _layers(models).items():
        slots = _slots(module)
        present = [f"layer/{name}/{i}" in arrays for i in range(len(slots))]
        if not all(present):
            if strict or any(present):
                raise ValueError(f"{manifest_path}: no weights for layer {name} ({type(module).__name__}): the file was written for another graph")
            continue
        with torch.no_grad():
            for i, slot in enumerate(slots):
                value = _to_torch(module, i, arrays[f"layer/{name}/{i}"])
                if tuple(value.shape) != tuple(slot.shape):
                    raise ValueError(f"{manifest_path}: layer/{name}/{i} has shape {tuple(arrays[f'layer/{name}/{i}'].shape)}, which does not fit layer {name} ({type(module).__name__}): the file was written for another graph")
                slot.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        loaded.append(name)
    return loaded


def tfjs_weights(models):
    """[(name, float32 numpy array in Keras layout)] of every layer weight, as weights files store them."""
    out = []
    for name, module in _layers(models).items():
        for i, slot in enumerate(_slots(module)):
            out.append((f"layer/{name}/{i}", _to_keras(module, i, slot.detach().cpu().numpy().astype(np.float32))))
    return out


def save_tfjs_weights(models, manifest_path, extra=()):
    """Writes the models' layer weights (and extra (name, array) pairs) as a weights manifest and its .bin beside it."""
    entries = tfjs_weights(models) + list(extra)
    base = os.path.splitext(os.path.basename(manifest_path))[0]
    bin_name = f"{base}.bin"
    directory = os.path.dirname(os.path.abspath(manifest_path))
    tmp = os.path.join(directory, f".{bin_name}.tmp")
    with open(tmp, "wb") as f:
        for _, value in entries:
            f.write(np.ascontiguousarray(value, dtype="<i4" if value.dtype == np.int32 else "<f4").tobytes())
    os.replace(tmp, os.path.join(directory, bin_name))
    weights = [{"name": n, "shape": list(v.shape), "dtype": "int32" if v.dtype == np.int32 else "float32"} for n, v in entries]
    tmp = manifest_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"weightsFile": bin_name, "weights": weights}, f)
    os.replace(tmp, manifest_path)
`);
