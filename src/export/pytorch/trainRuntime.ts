/**
 * The generic part of the generated train.py: the command line, devices and torchrun, the run
 * folder in Latent Studio's run format (config.json, run.json, metrics.jsonl, checkpoints the tfjs
 * jobs read, previews), the fit loop of a stage as src/train/fit.ts runs it (same shuffling rng,
 * same losses, metrics and KL term, the loss read back only every half second), validation as
 * src/train/scoring.ts scores it, Stop (SIGINT/SIGTERM) after the running batch, and --evaluate.
 * The graph-specific part (CONFIG, GRAPH_TEXT) is written by trainCode.ts above it.
 */

const lines = (code: string): string[] => code.replace(/^\n/, '').replace(/\n$/, '').split('\n');

export const TRAIN_RUNTIME = lines(String.raw`
# ---------------------------------------------------------------------------------------------
# Run folders (Latent Studio's run format: docs/run-format.md)

RUN_FORMAT_VERSION = 1
CHECKPOINT_FORMAT = 1
PREVIEW_COUNT = 10
EVAL_BATCH = 512
PROGRESS_SECONDS = 0.5


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RunWriteError(Exception):
    """A write the file system refused (a full disk, a read-only or deleted folder), in src/run/runFolder.ts' words."""

    def __init__(self, path, err):
        self.path = path
        self.code = getattr(err, "errno", None)
        super().__init__(f"{path}: {_write_fault(self.code, err)}")


def _write_fault(code, err):
    if code == errno.ENOSPC:
        return "could not be written: the disk is full (no space left on device)"
    if code == getattr(errno, "EDQUOT", -1):
        return "could not be written: your disk quota is used up"
    if code == errno.EROFS:
        return "could not be written: the folder is on a read-only file system"
    if code in (errno.EACCES, errno.EPERM):
        return "could not be written: permission denied (the folder is read-only for you)"
    if code == errno.ENOENT:
        return "could not be written: its folder was deleted"
    return f"could not be written ({getattr(err, 'strerror', None) or err})"


def write_advice(err, checkpointed):
    """What a run that could not write keeps, and how to go on (writeAdvice in src/train/trainer.ts)."""
    if err.code == errno.ENOENT:
        return "The run folder was deleted while it trained: train again."
    fix = "free some space" if err.code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)) else "make the folder writable"
    if checkpointed > 0:
        return f"The checkpoint after epoch {checkpointed} is intact: {fix}, then Resume continues from there."
    return f"No epoch was checkpointed yet: {fix}, then train again."


def write_atomic(path, data):
    """Write via a temporary file and a rename, so a reader never sees half a file; removed again when the write fails."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise RunWriteError(path, err) from None


def torch_bytes(value):
    """torch.save into memory: written with write_atomic, a full disk is a sentence (torch.save to a file aborts the process)."""
    buf = io.BytesIO()
    torch.save(value, buf)
    return buf.getvalue()


def write_json(path, value):
    write_atomic(path, json.dumps(value, indent=2) + "\n")


# One writer per run folder, the same claim as the tfjs engine's (src/run/runLock.ts): <run>/.lock
# created exclusively, held until the run ends; a lock whose process is gone is taken over.
LOCK_FILE = ".lock"


def _pid_alive(pid):
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        import ctypes
        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(path):
    try:
        with open(path, encoding="utf-8") as f:
            held = json.load(f)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "unreadable"
    ok = isinstance(held, dict) and isinstance(held.get("pid"), int) and all(isinstance(held.get(k), str) for k in ("host", "job", "startedAt", "token"))
    return held if ok else "unreadable"


def _holder(held):
    where = "" if held["host"] == socket.gethostname() else f" on {held['host']}"
    return f"{held['job']} in process {held['pid']}{where} since {held['startedAt']}"


def claim_run(run_dir, job):
    """Claims run_dir for job or stops with who holds it; the claim is given back at exit (release_run)."""
    path = os.path.join(run_dir, LOCK_FILE)
    name = os.path.basename(run_dir)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "job": job, "startedAt": now_iso(), "token": uuid.uuid4().hex}
    for attempt in range(5):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = _read_lock(path)
            if held == "missing":
                continue
            if held == "unreadable":
                if attempt < 2:
                    time.sleep(0.05)
                    continue
                raise SystemExit(f"{path} is not a lock file this version can read: if nothing else uses {name}, delete {LOCK_FILE} and try again")
            if held["host"] != socket.gethostname() or held["pid"] == os.getpid() or _pid_alive(held["pid"]):
                raise SystemExit(f"{name} is busy: {_holder(held)}. Wait for it to end, or stop it")
            aside = f"{path}.stale-{os.getpid()}-{uuid.uuid4().hex}"
            try:
                os.rename(path, aside)
            except OSError:
                continue
            moved = _read_lock(aside)
            if isinstance(moved, dict) and moved["token"] != held["token"]:
                try:
                    os.link(aside, path)  # another claim came in between: give it back
                except OSError:
                    pass
            try:
                os.remove(aside)
            except OSError:
                pass
            continue
        except FileNotFoundError:
            raise SystemExit(f"{run_dir}: no such run folder")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(mine))
        atexit.register(release_run, path, mine["token"])
        return {"path": path, "token": mine["token"]}
    raise SystemExit(f"{name}: could not claim the run folder (others kept claiming it)")


def release_run(path, token):
    """Removes the lock if it is still this claim's."""
    held = _read_lock(path)
    if isinstance(held, dict) and held["token"] == token:
        try:
            os.remove(path)
        except OSError:
            pass


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise SystemExit(f"{path}: cannot be read ({e})")


def run_name():
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", re.sub(r"\.latent\.json$|\.json$", "", os.path.basename(CONFIG["graphFile"]), flags=re.I)).strip("-")[:60]
    return base or "graph"


def create_run_dir(runs_dir):
    os.makedirs(runs_dir, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    for i in range(1, 10000):
        path = os.path.join(runs_dir, f"{stamp}-{run_name()}" + ("" if i == 1 else f"-{i}"))
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise SystemExit(f"{runs_dir}: cannot create a run folder")


def png_bytes(pixels):
    """A PNG of an (H, W, 3) uint8 array (zlib and struct: a writer is a few lines, no Pillow needed)."""
    h, w, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def image_grid(rows, scale=2, gap=2):
    """Rows of (H, W, C) float images in [0, 1] drawn side by side, each row below the last."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h * scale + gap) + gap, cols * (w * scale + gap) + gap, 3), 40, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            img = np.clip(img, 0, 1)
            img = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[:, :, :3]
            big = np.kron((img * 255 + 0.5).astype(np.uint8), np.ones((scale, scale, 1), np.uint8))
            y, x = gap + r * (h * scale + gap), gap + c * (w * scale + gap)
            grid[y:y + h * scale, x:x + w * scale] = big
    return png_bytes(grid)


class Run:
    """One run folder: what train.py writes, in the same files and schemas as the tfjs engine."""

    def __init__(self, run_dir, resumed):
        self.dir = run_dir
        self.status = read_json(os.path.join(run_dir, "run.json")) if resumed else None
        self.config = read_json(os.path.join(run_dir, "config.json")) if resumed else None

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_status(self, **fields):
        self.status = {**(self.status or {}), "runFormatVersion": RUN_FORMAT_VERSION, **fields}
        write_json(self.path("run.json"), {k: v for k, v in self.status.items() if v is not None or k == "bestValLoss"})

    def append_epoch(self, record):
        try:
            with open(self.path("metrics.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            raise RunWriteError(self.path("metrics.jsonl"), err) from None

    def trim_metrics(self, keep):
        path = self.path("metrics.jsonl")
        if not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            kept = [line for line in f if line.strip() and keep(json.loads(line))]
        write_atomic(path, "".join(kept))


# ---------------------------------------------------------------------------------------------
# Devices and torchrun


def pick_device(wanted, local_rank):
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit(f"--device {wanted}: this PyTorch sees no CUDA device (torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'})")
        if wanted == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise SystemExit("--device mps: this PyTorch has no usable Apple GPU (MPS)")
        device = torch.device(wanted)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", local_rank)
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device):
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


class Dist:
    """The process group under torchrun (WORLD_SIZE > 1): NCCL on CUDA, Gloo otherwise; rank 0 writes the run folder."""

    def __init__(self, device_arg):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = pick_device(device_arg, local)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1:
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self):
        return self.rank == 0

    def sum(self, tensor):
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def broadcast_text(self, text):
        if self.world == 1:
            return text
        box = [text]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self):
        if self.world > 1:
            dist.destroy_process_group()


def rank_share(order, rank, world):
    """This process's samples of the epoch's order: every world-th, the order padded from its start to a multiple of world (as DistributedSampler pads), so every process runs the same number of steps."""
    if world == 1:
        return order
    total = -(-len(order) // world) * world
    padded = np.concatenate([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[rank::world]


# ---------------------------------------------------------------------------------------------
# Events: what a person reads on the terminal, or JSON lines for Latent Studio (--json)


class Events:
    def __init__(self, as_json, enabled):
        self.as_json, self.enabled = as_json, enabled

    def emit(self, event, text=None, **fields):
        if not self.enabled:
            return
        if self.as_json:
            print(json.dumps({"event": event, **fields}), flush=True)
        elif text:
            print(text, flush=True)


STOP = {"requested": False, "at": 0.0}


def request_stop(signum, _frame):
    # Ctrl-C in a terminal reaches this process and Latent Studio (which then asks it to stop too):
    # a second signal within a second is the same press, not "again".
    if STOP["requested"] and time.monotonic() - STOP["at"] > 1.0:
        raise KeyboardInterrupt
    if STOP["requested"]:
        return
    STOP["requested"] = True
    STOP["at"] = time.monotonic()
    print("Stopping after the running batch (again to stop at once)...", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Data on the device


class Feeder:
    """The dataset's values normalised into model inputs, batch by batch, bit for bit as Latent Studio's batchToFloat: bytes through one 256-entry table per channel, floats in float64 (float32 on MPS, which has no float64). On the device when the data fits (one upload), else gathered on the host."""

    def __init__(self, ds, norm, device, input_shape):
        self.ds, self.device, self.input_shape = ds, device, tuple(input_shape)
        values = ds.values
        self.is_bytes = values.dtype == np.uint8
        self.channels = len(norm["shift"])
        shift = np.asarray(norm["shift"], np.float64)
        div = np.asarray(norm["div"], np.float64)
        self.shift = torch.tensor(norm["shift"], dtype=torch.float32, device=device)
        self.div = torch.tensor(norm["div"], dtype=torch.float32, device=device)
        if self.is_bytes:
            # Row c holds channel c's (byte - shift) / div: a gather per batch, exact.
            tables = ((np.arange(256, dtype=np.float64)[None, :] - shift[:, None]) / div[:, None]).astype(np.float32)
            self.tables = torch.from_numpy(tables).reshape(-1).to(device)
            self.table_offsets = torch.arange(self.channels, device=device) * 256
        else:
            wide = torch.float32 if device.type == "mps" else torch.float64
            self.shift_wide = torch.tensor(shift, dtype=wide, device=device)
            self.div_wide = torch.tensor(div, dtype=wide, device=device)
            self.identity = not shift.any() and bool((div == 1).all())
        per = int(np.prod(values.shape[1:]))
        flat = values.reshape(len(values), per)
        # Normalised once on the device when the float32 inputs fit: a batch is then one gather, as in a plain PyTorch loop.
        self.ready = len(values) * per * 4 <= DEVICE_DATA_LIMIT
        self.on_device = self.ready or values.nbytes <= DEVICE_DATA_LIMIT
        self.values = torch.from_numpy(np.ascontiguousarray(flat)).to(device) if self.on_device else flat
        if self.ready:
            chunk = max(1, (64 << 20) // max(1, per))
            self.values = torch.cat([self._normalize(self.values[i:i + chunk]) for i in range(0, len(values), chunk)]) if len(values) else self.values.to(torch.float32)
        labels = ds.labels if ds.labels is not None else np.zeros(len(values), np.uint8)
        self.labels = torch.from_numpy(labels.astype(np.int64)).to(device)

    def inputs(self, idx):
        """Model inputs of samples idx (a LongTensor on the device, or a numpy array)."""
        if self.on_device:
            raw = self.values[idx]
        else:
            raw = torch.from_numpy(self.values[idx.cpu().numpy() if torch.is_tensor(idx) else idx]).to(self.device, non_blocking=True)
        x = raw if self.ready else self._normalize(raw)
        return x.reshape((len(raw),) + self.input_shape)

    def _normalize(self, raw):
        n = len(raw)
        raw = raw.reshape(n, -1, self.channels)
        if self.is_bytes:
            x = self.tables[raw.to(torch.int64) + self.table_offsets]
        elif self.identity:
            x = raw.to(torch.float32)
        else:
            x = ((raw.to(self.shift_wide.dtype) - self.shift_wide) / self.div_wide).to(torch.float32)
        return x.reshape(n, -1)

    def targets(self, idx, target, classes):
        if target == "input":
            return None
        index = idx if torch.is_tensor(idx) else torch.from_numpy(np.asarray(idx, np.int64)).to(self.device)
        return torch.nn.functional.one_hot(self.labels[index.to(self.labels.device)], classes).to(torch.float32)


DEVICE_DATA_LIMIT = 2 * 1024 ** 3


def forward(model, x, loss, head_logits):
    """The model's output and, for categorical cross-entropy on a softmax Dense, its logits (as Latent Studio computes that loss)."""
    if head_logits and loss == "categoricalCrossentropy":
        logits = model(x, logits=True)
        return torch.softmax(logits, -1), logits
    return model(x), None


def stage_loss(stage, module, y, out, logits):
    loss = loss_fn(stage["loss"], y, out, logits)
    kl = graph_models.added_losses(module)
    return (loss + kl if kl is not None else loss), kl


def score_split(ctx, stage, module, idx):
    """Mean loss, metrics (and kl) and the confusion counts of a split, one read-back in all (src/train/scoring.ts scoreSplit)."""
    classes = stage["classes"]
    metrics = stage["metrics"]
    if len(idx) == 0:
        return None, {}, None
    was_training = module.training
    module.eval()
    device = ctx.feeder.device
    sums = torch.zeros(2 + len(metrics), device=device)
    confusion = torch.zeros(classes * classes, device=device) if stage["target"] == "labels" else None
    idx_t = torch.from_numpy(np.asarray(idx, np.int64)).to(device)
    with torch.no_grad():
        for start in range(0, len(idx), EVAL_BATCH):
            batch = idx_t[start:start + EVAL_BATCH]
            x = ctx.feeder.inputs(batch)
            y = ctx.feeder.targets(batch, stage["target"], classes)
            y = x if y is None else y
            out, logits = forward(module, x, stage["loss"], stage["headLogits"])
            total, kl = stage_loss(stage, module, y, out, logits)
            n = len(batch)
            parts = [total * n, (kl * n) if kl is not None else torch.zeros((), device=device)] + [metric_sum(m, y, out) for m in metrics]
            sums += torch.stack([p.reshape(()).to(torch.float32) for p in parts])
            if confusion is not None:
                confusion += torch.bincount(y.argmax(-1) * classes + out.argmax(-1), minlength=classes * classes).to(torch.float32)
    module.train(was_training)
    values = sums.cpu().tolist()
    n = len(idx)
    result = {m: values[2 + i] / n for i, m in enumerate(metrics)}
    if graph_models.added_losses(module) is not None:
        result["kl"] = values[1] / n
    matrix = None if confusion is None else confusion.reshape(classes, classes).round().to(torch.int64).cpu().tolist()
    return values[0] / n, result, matrix


def camel(prefix, name):
    return prefix + name[0].upper() + name[1:]


def display(ctx, x):
    """Model inputs or outputs (N, ...) back to stored values in [0, 1] as images (N, H, W, C); table rows as strips."""
    ds = ctx.ds
    x = x.detach().to(torch.float32).cpu().reshape(len(x), -1, ctx.feeder.channels)
    x = x * ctx.feeder.div.cpu() + ctx.feeder.shift.cpu()
    if ctx.feeder.is_bytes:
        x = x / 255
    if ds.kind == "table":
        if ctx.norm["method"] == "standard":
            x = (x - ctx.feeder.shift.cpu()) / ctx.feeder.div.cpu()
            x = (x + 3) / 6
        return x.reshape(len(x), 1, -1, 1).numpy()
    return x.reshape(len(x), ds.height, ds.width, ds.channels).numpy()


def preview(ctx, stage, module):
    """reconstructions.png: originals over reconstructions of the first test images (written by rank 0)."""
    if stage["target"] != "input" or len(ctx.preview_idx) == 0:
        return None
    was_training = module.training
    module.eval()
    # A denoising autoencoder's noise blocks come first: its rows are noisy, reconstructed, clean (as the tfjs engine draws them).
    noise = []
    for _, child in module.named_children():
        if type(child).__name__ not in ("GaussianNoise", "MaskingNoise"):
            break
        noise.append(child)
    with torch.no_grad():
        idx = torch.from_numpy(np.asarray(ctx.preview_idx, np.int64)).to(ctx.feeder.device)
        x = ctx.feeder.inputs(idx)
        noisy = x
        for layer in noise:  # elementwise: the layout does not matter
            layer.train()
            noisy = layer(noisy)
            layer.eval()
        y = module(noisy)
    module.train(was_training)
    rows = [list(display(ctx, x)), list(display(ctx, y))] if not noise else [list(display(ctx, noisy)), list(display(ctx, y)), list(display(ctx, x))]
    png = image_grid(rows)
    write_atomic(ctx.run.path("reconstructions.png"), png)
    return {"file": "reconstructions.png", "denoising": bool(noise)}


def class_names(ds, classes):
    """The dataset's class names, else the class numbers (src/train/scoring.ts classNamesFor)."""
    names = list(ds.class_names or [])
    return [names[i] if i < len(names) else str(i) for i in range(classes)]


def classifier_preview(ctx, stage_index, stage, module, epoch, confusion):
    """A classifier stage's newest confusion matrix on the validation split (confusion.json) and its preview images with their labels, predictions and confidences (predictions.png), as the tfjs engine writes them."""
    if stage["target"] != "labels" or confusion is None:
        return None
    if ctx.ds.labels is None:
        raise TrainingFailed(f"{ctx.ds.source} has no labels, but this stage trains a classifier.")
    idx = ctx.preview_idx
    labels = [int(ctx.ds.labels[i]) for i in idx]
    predicted, confidence = [], []
    if len(idx) > 0:
        was_training = module.training
        module.eval()
        with torch.no_grad():
            x = ctx.feeder.inputs(torch.from_numpy(np.asarray(idx, np.int64)).to(ctx.feeder.device))
            probs = module(x).to(torch.float32)
        module.train(was_training)
        predicted = probs.argmax(-1).cpu().tolist()
        confidence = probs.max(-1).values.cpu().tolist()
        write_atomic(ctx.run.path("predictions.png"), image_grid([list(display(ctx, x))]))
    write_json(ctx.run.path("confusion.json"), {
        "stage": stage["name"], "stageIndex": stage_index, "epoch": epoch, "outputId": stage["outputId"], "split": "validation", "samples": len(ctx.validation_idx),
        "classNames": class_names(ctx.ds, stage["classes"]), "confusion": confusion, "labels": labels, "predicted": predicted, "confidence": confidence,
    })
    return {"file": "confusion.json", "strip": "predictions.png" if len(idx) > 0 else None}


def write_tfjs_model(ctx, name):
    """model/: the model the run trained last in the TensorFlow.js layers format (model.json + weights.bin, as tfjs saves it), from the topology Latent Studio wrote beside this script (tfjs-models.json) and the weights trained here."""
    spec_file = os.path.join(HERE, TFJS_MODELS)
    described = read_json(spec_file)
    if described is None:
        message = f"model/ (the TensorFlow.js layers format) is not written: {TFJS_MODELS} is not beside {os.path.basename(__file__)} (export with Latent Studio to get it); model.pt and the checkpoint are."
        ctx.events.emit("log", message, level="info", message=message)
        return
    model = (described.get("models") or {}).get(name)
    if model is None:
        raise ValueError(f"{spec_file} has no model {name!r}")
    arrays = dict(graph_models.tfjs_weights(ctx.models))
    parts = []
    for w in model["weights"]:
        value = arrays.get(w["key"])
        if value is None or list(value.shape) != list(w["shape"]):
            raise ValueError(f"{spec_file}: {w['name']} is {w['shape']} ({w['key']}), but the trained weights have {'none' if value is None else list(value.shape)}")
        parts.append(np.ascontiguousarray(value, dtype="<i4" if w["dtype"] == "int32" else "<f4").tobytes())
    out = ctx.run.path("model")
    os.makedirs(out, exist_ok=True)
    write_atomic(os.path.join(out, "weights.bin"), b"".join(parts))
    manifest = [{"paths": ["weights.bin"], "weights": [{"name": w["name"], "shape": w["shape"], "dtype": w["dtype"]} for w in model["weights"]]}]
    write_json(os.path.join(out, "model.json"), {"modelTopology": model["modelTopology"], "weightsManifest": manifest, "format": model.get("format"), "generatedBy": model.get("generatedBy"), "convertedBy": model.get("convertedBy")})


TFJS_MODELS = "tfjs-models.json"


# ---------------------------------------------------------------------------------------------
# Checkpoints: layer weights as the tfjs engine names them (so Evaluate, Export, the inspect views
# and Detect Anomalies read them), the stage's order, and PyTorch's optimizer state beside them.


def save_checkpoint(ctx, stage_index, stage, stage_epoch, optimizer, order):
    ckpt_dir = ctx.run.path("checkpoint")
    os.makedirs(ckpt_dir, exist_ok=True)
    tag = f"{ctx.epochs_completed}-{secrets.token_hex(4)}"
    entries = graph_models.tfjs_weights(ctx.models) + [("state/order", np.asarray(order, np.int32))]
    data = b"".join(np.ascontiguousarray(v, dtype="<i4" if v.dtype == np.int32 else "<f4").tobytes() for _, v in entries)
    weights_file = f"weights-{tag}.bin"
    try:
        _write_checkpoint_files(ctx, ckpt_dir, tag, weights_file, data, entries, stage_index, stage, stage_epoch, optimizer, order)
    except RunWriteError:
        # The previous checkpoint stays the checkpoint: its manifest still names its own files.
        for name in os.listdir(ckpt_dir):
            if tag in name:
                try:
                    os.remove(os.path.join(ckpt_dir, name))
                except OSError:
                    pass
        raise
    for name in os.listdir(ckpt_dir):
        if (name.startswith("weights-") or name.startswith("pytorch-")) and tag not in name:
            os.remove(os.path.join(ckpt_dir, name))


def _write_checkpoint_files(ctx, ckpt_dir, tag, weights_file, data, entries, stage_index, stage, stage_epoch, optimizer, order):
    write_atomic(os.path.join(ckpt_dir, weights_file), data)
    write_atomic(os.path.join(ckpt_dir, f"pytorch-{tag}.pt"), torch_bytes({"optimizer": optimizer.state_dict() if optimizer is not None else None, "optimizerName": stage["optimizer"], "torchRng": torch.get_rng_state()}))
    meta = {
        "format": CHECKPOINT_FORMAT,
        "stageIndex": stage_index,
        "stageName": stage["name"],
        "stageEpoch": stage_epoch,
        "stageEpochs": stage["epochs"],
        "epochsCompleted": ctx.epochs_completed,
        "bestValLoss": ctx.best_val_loss,
        "graphSha256": GRAPH_SHA256,
        "savedAt": now_iso(),
        "backend": "pytorch",
        "optimizer": stage["optimizer"],
        "rngState": ctx.rng.state,
        "trainSamples": len(order),
        "weightsFile": weights_file,
        "weightsBytes": len(data),
        "weightsSha256": hashlib.sha256(data).hexdigest(),
        "weights": [{"name": n, "shape": list(v.shape), "dtype": "int32" if v.dtype == np.int32 else "float32"} for n, v in entries],
    }
    write_json(os.path.join(ckpt_dir, "checkpoint.json"), meta)


def load_checkpoint(run_dir):
    """(meta, layer arrays, PyTorch state or None) of a run's checkpoint."""
    manifest = os.path.join(run_dir, "checkpoint", "checkpoint.json")
    meta = read_json(manifest)
    if meta is None:
        raise SystemExit(f"{run_dir} has no checkpoint (no completed epoch): there is nothing to resume or evaluate")
    if meta.get("graphSha256") != GRAPH_SHA256:
        raise SystemExit(f"{manifest}: the checkpoint was written for another graph than this train.py's ({CONFIG['graphName']})")
    arrays = graph_models.read_weights_file(manifest)
    state_file = os.path.join(run_dir, "checkpoint", meta["weightsFile"].replace("weights-", "pytorch-").replace(".bin", ".pt"))
    state = _load_state(state_file) if os.path.exists(state_file) else None
    return meta, arrays, state


def _load_state(path):
    """torch.load of our own checkpoint state (tensors, numbers, strings): weights only on torch 2 (the default from 2.6); torch 1.x's weights-only unpickler cannot read floats."""
    if int(torch.__version__.split(".")[0]) >= 2:
        return torch.load(path, map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu")
`);

export const TRAIN_MAIN = lines(String.raw`
# ---------------------------------------------------------------------------------------------
# Training


class Context:
    pass


def stage_plan(args):
    stages = [dict(s) for s in CONFIG["stages"]]
    for s in stages:
        if args.epochs is not None:
            s["epochs"] = args.epochs
        if args.batch_size:
            s["batchSize"] = args.batch_size
    if args.stages:
        names = [s["name"] for s in stages]
        unknown = [n for n in args.stages if n not in names]
        if unknown:
            only_default = names == ["train"]
            raise SystemExit(f"{os.path.basename(CONFIG['graphFile'])} has no stage {', '.join(repr_name(n) for n in unknown)}: its stages are {', '.join(repr_name(n) for n in names)}" + (' (without training.stages a graph trains one stage, "train")' if only_default else ""))
        for s in stages:
            if s["name"] not in args.stages:
                s["skipped"] = NOT_SELECTED
    return stages


NOT_SELECTED = "not selected with --stage"


def repr_name(name):
    return f'"{name}"'


def init_from(ctx, run_dir, what=None):
    """--init-from (or the graph's training.initFrom): another run's checkpoint loaded into the layers that match by name and shape (each layer whole or not at all); the others keep their initial weights."""
    what = what or f"--init-from {run_dir}"
    manifest = os.path.join(os.path.abspath(run_dir), "checkpoint", "checkpoint.json")
    if not os.path.isdir(run_dir):
        raise SystemExit(f"{what}: no such run folder")
    if not os.path.exists(manifest):
        raise SystemExit(f"{what}: the run has no checkpoint (it ended before its first epoch did), so there are no weights to start from")
    arrays = graph_models.read_weights_file(manifest)
    loaded, mismatched, missing = [], [], []
    shapes = lambda xs: " ".join("none" if x is None else "[" + ", ".join(str(d) for d in x) + "]" for x in xs)
    for name, module in graph_models._layers(ctx.models).items():
        slots = graph_models._slots(module)
        keys = [f"layer/{name}/{i}" for i in range(len(slots))]
        if not any(k in arrays for k in keys):
            missing.append(name)
            continue
        values = [graph_models._to_torch(module, i, arrays[k]) if k in arrays else None for i, k in enumerate(keys)]
        if any(v is None or tuple(v.shape) != tuple(slot.shape) for v, slot in zip(values, slots)):
            mismatched.append((name, shapes([graph_models._to_keras(module, i, slot.detach().cpu().numpy()).shape for i, slot in enumerate(slots)]), shapes([arrays[k].shape if k in arrays else None for k in keys])))
            continue
        with torch.no_grad():
            for v, slot in zip(values, slots):
                slot.copy_(torch.from_numpy(np.ascontiguousarray(v)))
        loaded.append(name)
    total = len(loaded) + len(mismatched) + len(missing)
    if not loaded:
        detail = "; ".join(f'"{n}" is {g} here but {c} there' for n, g, c in mismatched[:3])
        raise SystemExit(f"{what}: none of its checkpoint's layers match this graph's {total} layers with weights by name and shape{f' ({detail})' if detail else ''}: nothing to start from")
    kept = ([f"{len(missing)} not in that run ({', '.join(missing)})"] if missing else []) + ([f"{len(mismatched)} of another shape ({', '.join(n for n, _, _ in mismatched)})"] if mismatched else [])
    message = f"Started from {os.path.basename(os.path.abspath(run_dir))}: loaded {len(loaded)} of {total} layers ({', '.join(loaded)})" + (f"; kept the initial weights of {' and '.join(kept)}" if kept else "") + "."
    ctx.events.emit("log", message, level="info", message=message)


def prepare_data(ctx, args):
    """Dataset, split, limits and normalisation exactly as Latent Studio draws them (src/train/prepare.ts)."""
    spec = args.data or CONFIG["dataset"]
    ctx.ds = load_dataset(spec, base_dir=CONFIG["dataDir"], builtin_dir=args.builtin_dir or HERE, label_column=args.label_column or CONFIG["labelColumn"], shape=CONFIG["inputShape"], resize=CONFIG["resize"])
    check_fits(ctx.ds)
    train, validation, test = split_dataset(len(ctx.ds.values), ctx.ds.test_start, CONFIG["split"]["validation"], CONFIG["split"]["test"], CONFIG["seed"])
    classes = resolve_classes(CONFIG["classes"], ctx.ds.class_names, ctx.ds.num_classes) if CONFIG["classes"] is not None else None
    if classes is not None:
        train, validation, test = restrict_to_classes((train, validation, test), ctx.ds.labels, classes)
    ctx.train_idx = train[: args.limit] if args.limit else train
    if len(ctx.train_idx) == 0:
        raise SystemExit("The training split is empty: lower the validation and test fractions" + (" or check training.classes against the dataset's labels" if classes else ""))
    ctx.validation_idx = validation
    ctx.test_idx = test
    ctx.preview_idx = (test if len(test) else validation)[:PREVIEW_COUNT]
    # A run's own statistics; else those exported beside this script with a run's weights (drawn from that run's training samples).
    saved = read_json(os.path.join(ctx.run.dir, "normalization.json")) if ctx.run else None
    if saved is None and not args.data and os.path.exists(os.path.join(HERE, "weights.json")):
        saved = read_json(os.path.join(HERE, "normalization.json"))
    method = CONFIG["normalize"] or ("standard" if ctx.ds.kind == "table" else "unit")
    ctx.norm = saved or compute_normalization(ctx.ds.values, ctx.ds.channels, ctx.train_idx, method, ctx.ds.values.dtype == np.uint8)
    if ctx.norm["method"] == "standard" and any(s["loss"] == "binaryCrossentropy" and s["target"] == "input" for s in CONFIG["stages"]):
        raise SystemExit("Binary cross-entropy needs reconstruction targets in [0, 1], but training.normalize \"standard\" gives z-scores: use meanSquaredError, or normalize \"minmax\"")


def check_fits(ds):
    size = int(np.prod(ds.values.shape[1:]))
    want = int(np.prod(CONFIG["inputShape"]))
    if size != want:
        raise SystemExit(f"{ds.source}: a sample has {size} values ({'x'.join(map(str, ds.values.shape[1:]))}) but the Input takes {want} ({'x'.join(map(str, CONFIG['inputShape']))})")


def set_frozen(ctx, stage):
    for attr, module in ctx.layers.named_children():
        for p in module.parameters():
            p.requires_grad_(attr not in stage["frozenLayers"])


def check_val_loss(value, stage_name, epoch, learning_rate):
    """Stops at the first validation loss that is not finite, before the epoch is recorded or checkpointed (as src/train/errors.ts checkValidationLoss)."""
    if value is None or math.isfinite(value):
        return
    if epoch == 0:
        raise TrainingFailed(f"The validation loss is {_js_float_text(value)} in stage \"{stage_name}\" before it trains: check the data (values the loss cannot take, such as targets outside 0..1 for binary cross-entropy).")
    raise TrainingFailed(f"The validation loss became {_js_float_text(value)} in stage \"{stage_name}\", epoch {epoch}: lower the learning rate (now {learning_rate}) or check the data. The run keeps its last checkpoint.")


def _js_float_text(value):
    """inf, -inf, nan as JavaScript writes them, so both engines' sentences read the same."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity") if math.isinf(value) else value


def epoch_record(ctx, stage_index, stage, module, epoch, logs):
    val_loss, val_metrics, confusion = score_split(ctx, stage, module, ctx.validation_idx)
    check_val_loss(val_loss, stage["name"], epoch, stage["learningRate"])
    metrics = dict(logs["metrics"]) if logs else {}
    for k, v in val_metrics.items():
        metrics[camel("val", k)] = v
    seconds = logs["seconds"] if logs else 0
    record = {
        "stage": stage["name"], "stageIndex": stage_index, "epoch": epoch,
        "loss": logs["loss"] if logs else None, "valLoss": val_loss, "metrics": metrics,
        "seconds": seconds, "samplesPerSec": logs["samples"] / seconds if logs and seconds > 0 else 0,
        "backend": "pytorch", "liveTensors": 0, "endedAt": int(time.time() * 1000),
    }
    return record, confusion


def report_batch(ctx, last, loss, where, stage, stage_index, epoch, b, batches):
    """Every PROGRESS_SECONDS and at an epoch's last batch: the loss read back (the only host sync), checked, and sent. Returns when it last reported."""
    now = time.monotonic()
    if now - last < PROGRESS_SECONDS and b != batches - 1:
        return last
    value = loss.item()
    if not math.isfinite(value):
        raise TrainingFailed(f"The loss became {value} in stage \"{where}\", epoch {epoch}, by batch {b + 1} of {batches}: lower the learning rate (now {stage['learningRate']}) or check the data.")
    ctx.events.emit("batch", stageIndex=stage_index, epoch=epoch, batch=b + 1, batches=batches, loss=value)
    return now


def train_epoch(ctx, stage_index, stage, model, module, optimizer, order, epoch):
    """One epoch of a fit stage; None when a Stop ended it. Losses stay on the device: read back every PROGRESS_SECONDS."""
    share = rank_share(order, ctx.dist.rank, ctx.dist.world)
    bs = stage["batchSize"]
    batches = -(-len(share) // bs)
    device = ctx.feeder.device
    names = stage["metrics"] + (["kl"] if stage["hasKl"] else [])
    sums = torch.zeros(1 + len(names), device=device)
    order_t = torch.from_numpy(np.asarray(share, np.int64)).to(device)
    module.train()
    start = last = time.monotonic()
    for b in range(batches):
        idx = order_t[b * bs:(b + 1) * bs]
        n = len(idx)
        x = ctx.feeder.inputs(idx)
        y = ctx.feeder.targets(idx, stage["target"], stage["classes"])
        y = x if y is None else y
        out, logits = forward(model, x, stage["loss"], stage["headLogits"])
        total, kl = stage_loss(stage, module, y, out, logits)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        with torch.no_grad():
            sums[0] += total.detach() * n
            if len(names) > 0:
                parts = [metric_sum(m, y, out) for m in stage["metrics"]] + ([kl.detach() * n] if stage["hasKl"] else [])
                sums[1:] += torch.stack([p.reshape(()).to(torch.float32) for p in parts])
        last = report_batch(ctx, last, total, stage["name"], stage, stage_index, epoch, b, batches)
        if STOP["requested"]:
            return None
    ctx.dist.sum(sums)
    seen = len(share) * ctx.dist.world
    values = sums.cpu().tolist()
    loss = values[0] / seen
    if not math.isfinite(loss):
        raise TrainingFailed(f"The loss became {loss} in stage \"{stage['name']}\", epoch {epoch}: lower the learning rate (now {stage['learningRate']}) or check the data.")
    return {"loss": loss, "metrics": {m: values[1 + i] / seen for i, m in enumerate(names)}, "seconds": time.monotonic() - start, "samples": seen}


class TrainingFailed(Exception):
    pass


def snapshot(ctx):
    return {k: v.detach().clone() for k, v in ctx.layers.state_dict().items()}


def run_fit_stage(ctx, stage_index, stage, done, resume_state):
    """Train one fit stage from done epochs; True when a Stop ended it."""
    module = ctx.models[stage["model"]]
    set_frozen(ctx, stage)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise TrainingFailed(f"Stage \"{stage['name']}\" has nothing to train: every block it uses is frozen.")
    optimizer = make_optimizer(stage["optimizer"], params, stage["learningRate"])
    order = np.array(ctx.train_idx, dtype=np.int64)
    if done > 0 and resume_state is not None:
        if resume_state["state"] is not None and resume_state["state"].get("optimizerName") == stage["optimizer"]:
            optimizer.load_state_dict(resume_state["state"]["optimizer"])
        saved_order = resume_state["order"]
        if saved_order is not None and len(saved_order) == len(order):
            order = np.array(saved_order, dtype=np.int64)
    elif ctx.dist.main:
        record, _ = epoch_record(ctx, stage_index, stage, module, 0, None)
        ctx.run.append_epoch(record)
        ctx.events.emit("epoch", epoch_text(record), record=record)
    model = DistributedDataParallel(module, device_ids=[ctx.feeder.device] if ctx.feeder.device.type == "cuda" else None) if ctx.dist.world > 1 else module
    kept = snapshot(ctx)
    for epoch in range(done + 1, stage["epochs"] + 1):
        shuffle_in_place(order, ctx.rng)
        logs = train_epoch(ctx, stage_index, stage, model, module, optimizer, order, epoch)
        if logs is None:
            ctx.layers.load_state_dict(kept)  # back to the last completed epoch (the checkpoint's)
            return True
        ctx.epochs_completed += 1
        if ctx.dist.main:
            record, confusion = epoch_record(ctx, stage_index, stage, module, epoch, logs)
            if record["valLoss"] is not None and (ctx.best_val_loss is None or record["valLoss"] < ctx.best_val_loss):
                ctx.best_val_loss = record["valLoss"]
            ctx.run.append_epoch(record)
            picture = preview(ctx, stage, module)
            classifier = classifier_preview(ctx, stage_index, stage, module, epoch, confusion)
            save_checkpoint(ctx, stage_index, stage, epoch, optimizer, order)
            ctx.run.write_status(status="running", epochsCompleted=ctx.epochs_completed, bestValLoss=ctx.best_val_loss)
            ctx.events.emit("epoch", epoch_text(record), record=record, preview=picture, classifier=classifier)
        ctx.dist.barrier()
        kept = snapshot(ctx)
    if stage["epochs"] == 0 and ctx.dist.main:
        # --epochs 0: the starting weights (an imported model, --init-from) scored and kept as the run's checkpoint, untrained.
        save_checkpoint(ctx, stage_index, stage, 0, optimizer, order)
    return False


class _StepNet(torch.nn.Module):
    """One layer-wise step as it trains: the step's own layers (the graph's, from model.py) and, for an autoencoder step, its temporary decoder."""

    def __init__(self, layers, step, decoder, decoder_activation):
        super().__init__()
        self.holder = [layers]  # a list: not registered again as a child
        self.parts = torch.nn.ModuleList([getattr(layers, m) for m in step["modules"]])
        self.decoder = decoder
        self.decoder_activation = decoder_activation
        self.step = step

    def forward(self, x, logits=False):
        if self.decoder is None:
            return self.step["apply"](self.holder[0], x, logits=logits)
        y = self.decoder(self.step["apply"](self.holder[0], x))
        return torch.sigmoid(y) if self.decoder_activation == "sigmoid" else y


class _Evaluating:
    """Modules in eval mode for a while (dropout and noise off), as they were after."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.was = self.module.training
        self.module.eval()

    def __exit__(self, *exc):
        self.module.train(self.was)


def _map_rows(count, fn):
    with torch.no_grad():
        parts = [fn(start, min(count, start + CODE_BATCH)) for start in range(0, count, CODE_BATCH)]
    return torch.cat(parts) if parts else None


CODE_BATCH = 1024


def _step_scores(net, loss_name, is_head, head_logits, codes, labels):
    """(mean loss, mean accuracy or None) of a step on the validation codes."""
    if codes is None or len(codes) == 0:
        return None, None
    sums = torch.zeros(2, device=codes.device)
    with _Evaluating(net), torch.no_grad():
        for start in range(0, len(codes), EVAL_BATCH):
            x = codes[start:start + EVAL_BATCH]
            y = labels[start:start + EVAL_BATCH] if is_head else x
            out, logits = forward(net, x, loss_name, head_logits and is_head)
            sums[0] += loss_fn(loss_name, y, out, logits) * len(x)
            if is_head:
                sums[1] += metric_sum("accuracy", y, out)
    values = (sums / len(codes)).cpu().tolist()
    return values[0], (values[1] if is_head else None)


def run_layerwise_stage(ctx, stage_index, stage):
    """Greedy layer-wise pretraining (src/train/layerwise.ts): each Encoder layer as its own autoencoder on the codes of the one before (sigmoid + binary cross-entropy on the inputs, linear + MSE deeper), then the softmax step on the last codes. True when a Stop ended it."""
    plan = LAYERWISE[stage_index]
    if "error" in plan:
        raise TrainingFailed(plan["error"])
    device = ctx.feeder.device
    for p in ctx.layers.parameters():
        p.requires_grad_(True)  # a layer-wise stage trains its steps' layers whatever is frozen later
    train_t = torch.from_numpy(np.asarray(ctx.train_idx, np.int64)).to(device)
    val_t = torch.from_numpy(np.asarray(ctx.validation_idx, np.int64)).to(device)
    with _Evaluating(ctx.layers):
        codes = _map_rows(len(train_t), lambda a, b: plan["codes"](ctx.layers, ctx.feeder.inputs(train_t[a:b])))
        val_codes = _map_rows(len(val_t), lambda a, b: plan["codes"](ctx.layers, ctx.feeder.inputs(val_t[a:b]))) if len(val_t) else None
    classes = ctx.ds.num_classes if plan["headOutputId"] is not None else 0
    labels = ctx.feeder.targets(train_t, "labels", classes) if classes else None
    val_labels = ctx.feeder.targets(val_t, "labels", classes) if classes and len(val_t) else None
    kept = snapshot(ctx)
    epoch_at = 0
    bs = stage["batchSize"]
    for step_index, step in enumerate(plan["steps"]):
        is_head = step["kind"] == "head"
        first = step_index == 0
        loss_name = "categoricalCrossentropy" if is_head else "binaryCrossentropy" if first else "meanSquaredError"
        in_dim = codes.shape[1]
        decoder = None
        if not is_head:
            decoder = torch.nn.Linear(getattr(ctx.layers, step["modules"][0]).out_features, in_dim)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(CONFIG["seed"] + step_index)
                graph_models.keras_init(decoder)
            decoder.to(device)
        net = _StepNet(ctx.layers, step, decoder, "sigmoid" if first else "linear")
        head_logits = is_head and plan["headLogits"]
        label = f"{stage['name']} · {step['label']}" + ("" if is_head else f" ({in_dim}→{getattr(ctx.layers, step['modules'][0]).out_features})")
        optimizer = make_optimizer(stage["optimizer"], list(net.parameters()), stage["learningRate"])
        model = DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None) if ctx.dist.world > 1 else net
        order = np.arange(len(codes), dtype=np.int64)
        for e in range(1, stage["epochs"] + 1):
            epoch = epoch_at + e
            shuffle_in_place(order, ctx.rng)
            share = rank_share(order, ctx.dist.rank, ctx.dist.world)
            batches = -(-len(share) // bs)
            order_t = torch.from_numpy(np.asarray(share, np.int64)).to(device)
            sums = torch.zeros(2, device=device)
            net.train()
            start = last = time.monotonic()
            for b in range(batches):
                idx = order_t[b * bs:(b + 1) * bs]
                x = codes[idx]
                y = labels[idx] if is_head else x
                out, logits = forward(model, x, loss_name, head_logits)
                loss = loss_fn(loss_name, y, out, logits)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    sums[0] += loss.detach() * len(idx)
                    if is_head:
                        sums[1] += metric_sum("accuracy", y, out)
                last = report_batch(ctx, last, loss, label, stage, stage_index, epoch, b, batches)
                if STOP["requested"]:
                    ctx.layers.load_state_dict(kept)  # back to the stage's start: a layer-wise stage checkpoints once it has finished
                    return True
            ctx.dist.sum(sums)
            seen = len(share) * ctx.dist.world
            values = (sums / seen).cpu().tolist()
            seconds = time.monotonic() - start
            ctx.epochs_completed += 1
            if ctx.dist.main:
                val_loss, val_accuracy = _step_scores(net, loss_name, is_head, head_logits, val_codes, val_labels)
                check_val_loss(val_loss, label, epoch, stage["learningRate"])
                metrics = {"accuracy": values[1], **({"valAccuracy": val_accuracy} if val_accuracy is not None else {})} if is_head else {}
                record = {
                    "stage": label, "stageIndex": stage_index, "epoch": epoch, "loss": values[0], "valLoss": val_loss, "metrics": metrics,
                    "seconds": seconds, "samplesPerSec": seen / seconds if seconds > 0 else 0, "backend": "pytorch", "liveTensors": 0, "endedAt": int(time.time() * 1000),
                }
                ctx.run.append_epoch(record)
                ctx.run.write_status(status="running", epochsCompleted=ctx.epochs_completed, bestValLoss=ctx.best_val_loss)
                ctx.events.emit("epoch", epoch_text(record), record=record)
        epoch_at += stage["epochs"]
        if not is_head:
            with _Evaluating(ctx.layers):
                codes = _map_rows(len(codes), lambda a, b: step["apply"](ctx.layers, codes[a:b]))
                val_codes = _map_rows(len(val_codes), lambda a, b: step["apply"](ctx.layers, val_codes[a:b])) if val_codes is not None else None
    if plan["headModel"] is not None and ctx.dist.main:
        # The pretrained stack as a classifier, before any fine-tuning.
        spec = _head_spec(plan, classes)
        module = ctx.models[plan["headModel"]]
        val_loss, val_metrics, _ = score_split(ctx, spec, module, ctx.validation_idx)
        test_loss, test_metrics, _ = score_split(ctx, spec, module, ctx.test_idx)
        ctx.pretrained = {"stage": stage["name"], "outputId": plan["headOutputId"], "model": plan["headModel"], "spec": spec,
                          "before": {"valLoss": val_loss, "valAccuracy": val_metrics.get("accuracy"), "testLoss": test_loss, "testAccuracy": test_metrics.get("accuracy")}}
        write_json(ctx.run.path("pretraining.json"), {k: ctx.pretrained[k] for k in ("stage", "outputId", "before")})
        ctx.events.emit("log", f"Stage \"{stage['name']}\" done: the pretrained stack scores {_pct(test_metrics.get('accuracy'))} on the test split before fine-tuning.", level="info",
                        message=f"Stage \"{stage['name']}\" done: the pretrained stack scores {_pct(test_metrics.get('accuracy'))} on the test split before fine-tuning.")
    if ctx.dist.main:
        save_checkpoint(ctx, stage_index, stage, stage["epochs"], None, ctx.train_idx)
    ctx.dist.barrier()
    return False


def _head_spec(plan, classes):
    """How the pretrained stack is scored as a classifier: categorical cross-entropy and accuracy on its labels."""
    return {"loss": "categoricalCrossentropy", "metrics": ["accuracy"], "target": "labels", "classes": classes, "headLogits": plan["headLogits"]}


def _pct(v):
    return "-" if v is None else f"{v * 100:.2f}%"


def score_pretrained_after(ctx):
    """The pretrained classifier scored again on the same test split once every later stage has trained (fine-tuning)."""
    before = getattr(ctx, "pretrained", None)
    if before is None or not ctx.dist.main:
        return
    test_loss, test_metrics, _ = score_split(ctx, before["spec"], ctx.models[before["model"]], ctx.test_idx)
    write_json(ctx.run.path("pretraining.json"), {"stage": before["stage"], "outputId": before["outputId"], "before": before["before"], "after": {"testLoss": test_loss, "testAccuracy": test_metrics.get("accuracy")}})
    message = f"Test accuracy {_pct(before['before']['testAccuracy'])} after pretraining, {_pct(test_metrics.get('accuracy'))} after fine-tuning."
    ctx.events.emit("log", message, level="info", message=message)


def stage_epochs(index, stage):
    """Epochs a stage runs in all: a layer-wise stage runs its epochs for each layer it pretrains and again for the softmax step; a skipped stage none."""
    if stage.get("skipped"):
        return 0
    plan = LAYERWISE.get(index) if stage["kind"] == "layerwise" else None
    return stage["epochs"] * len(plan["steps"]) if plan and "steps" in plan else stage["epochs"]


def restore_pretrained(ctx, stages, meta):
    """A resumed run past its layer-wise stage: the pretrained stack's scores it wrote (pretraining.json), so they are scored again after fine-tuning."""
    saved = read_json(ctx.run.path("pretraining.json"))
    if not saved or meta is None:
        return
    for i, s in enumerate(stages):
        plan = LAYERWISE.get(i) if s["kind"] == "layerwise" else None
        if plan and "steps" in plan and s["name"] == saved.get("stage") and i <= meta["stageIndex"] and plan["headModel"] is not None:
            ctx.pretrained = {"stage": s["name"], "outputId": saved["outputId"], "model": plan["headModel"], "spec": _head_spec(plan, ctx.ds.num_classes), "before": saved["before"]}


def epoch_text(r):
    metrics = "".join(f"  {k} {v:.4f}" for k, v in r["metrics"].items())
    loss = "—" if r["loss"] is None else f"{r['loss']:.4f}"
    val = "—" if r["valLoss"] is None else f"{r['valLoss']:.4f}"
    return f"{r['stage']} epoch {r['epoch']}: loss {loss}  val_loss {val}{metrics}  ({r['seconds']:.1f} s, {r['samplesPerSec']:.0f} samples/s)"


def epochs_done(stages, meta):
    if meta is None:
        return [0] * len(stages)
    return [s["epochs"] if i < meta["stageIndex"] else min(meta["stageEpoch"], s["epochs"]) if i == meta["stageIndex"] else 0 for i, s in enumerate(stages)]


def write_config(ctx, args, stages, resumed):
    ds = ctx.ds
    config = {
        "engine": "pytorch",
        "device": describe_device(ctx.feeder.device),
        "worldSize": ctx.dist.world,
        "graphFile": CONFIG["graphPath"],
        "graphSha256": GRAPH_SHA256,
        "graphName": CONFIG["graphName"],
        "seed": CONFIG["seed"],
        "dataset": {
            "spec": args.data or CONFIG["dataset"], "source": ds.source, "count": len(ds.values), "skipped": ds.skipped,
            "shape": [ds.height, ds.width, ds.channels], "kind": ds.kind,
            **({"classNames": list(ds.class_names)} if ds.class_names else {}),
            **({"featureNames": list(ds.feature_names)} if ds.feature_names else {}),
        },
        "split": {"train": len(ctx.train_idx), "validation": len(ctx.validation_idx), "test": len(ctx.test_idx)},
        "stages": [{k: v for k, v in s.items() if k in RUN_STAGE_FIELDS} for s in stages],
        "backend": {"name": "pytorch", "tfBackend": f"torch {torch.__version__}", "detail": f"{describe_device(ctx.feeder.device)}{f' x {ctx.dist.world} processes' if ctx.dist.world > 1 else ''}", "skipped": []},
        "overrides": {k: v for k, v in {"epochs": args.epochs, "batchSize": args.batch_size, "data": args.data, "labelColumn": args.label_column, "limitSamples": args.limit, "stages": args.stages}.items() if v is not None},
        **({"initFrom": ctx.init_from} if getattr(ctx, "init_from", None) else {}),
        "versions": {"torch": torch.__version__, "python": platform.python_version(), "numpy": np.__version__, "latentStudio": CONFIG["version"]},
        "startedAt": now_iso(),
    }
    if resumed and ctx.run.config:
        previous = ctx.run.config
        if previous.get("initFrom"):
            config["initFrom"] = previous["initFrom"]
        config["startedAt"] = previous.get("startedAt", config["startedAt"])
        config["resumes"] = previous.get("resumes", []) + [{"startedAt": now_iso(), "afterEpoch": ctx.epochs_completed, "backend": "pytorch"}]
    write_json(ctx.run.path("config.json"), config)


RUN_STAGE_FIELDS = {"name", "kind", "outputId", "target", "loss", "optimizer", "learningRate", "epochs", "batchSize", "metrics", "freeze", "encoder", "skipped"}


def has_start_weights(args):
    """--weights, or weights.json beside this script (an export with --run: the run's trained weights, which come after the graph's starting point)."""
    return bool(args.weights) or os.path.exists(os.path.join(HERE, "weights.json"))


def load_start_weights(ctx, args):
    """The first stage's starting point: --weights, else weights.json beside this script (an export with --run)."""
    manifest = args.weights or (os.path.join(HERE, "weights.json") if os.path.exists(os.path.join(HERE, "weights.json")) else None)
    if manifest:
        graph_models.load_tfjs_weights(ctx.models, manifest)
        ctx.events.emit("log", f"Starting from the weights in {manifest}.", level="info", message=f"Starting from the weights in {manifest}.")


def setup(args, run_dir, resumed):
    ctx = Context()
    ctx.dist = Dist(args.device)
    ctx.events = Events(args.json, ctx.dist.main)
    ctx.run = Run(run_dir, resumed) if run_dir else None
    torch.manual_seed(CONFIG["seed"] + ctx.dist.rank)
    ctx.models = graph_models.build_models()
    ctx.layers = _shared_layers(ctx.models)
    for m in ctx.models.values():
        m.to(ctx.dist.device)
    return ctx


def _shared_layers(models):
    """One module holding every layer once (the models share them), for state dicts and freezing."""
    holder = torch.nn.Module()
    for model in models.values():
        for attr, module in model.named_children():
            if not hasattr(holder, attr):
                holder.add_module(attr, module)
    return holder


def keep_overrides(args, overrides):
    """A resumed run keeps the settings it started with (epochs, batch size, data, limit) unless given again."""
    for arg, key in (("epochs", "epochs"), ("batch_size", "batchSize"), ("data", "data"), ("label_column", "labelColumn"), ("limit", "limitSamples"), ("stages", "stages")):
        if getattr(args, arg) is None and overrides.get(key) is not None:
            setattr(args, arg, overrides[key])


def train_main(args):
    resumed = args.resume is not None
    ctx = setup(args, None, resumed)
    if ctx.dist.main:
        run_dir = os.path.abspath(args.resume) if resumed else (os.path.abspath(args.run_dir) if args.run_dir else create_run_dir(os.path.abspath(args.out)))
        if not resumed:
            os.makedirs(run_dir, exist_ok=True)
        # Before reading anything of the folder: of two runs started on it together, one gets it.
        ctx.lock = claim_run(run_dir, "resuming" if resumed else "training")
    else:
        run_dir = None
    run_dir = ctx.dist.broadcast_text(run_dir)
    ctx.run = Run(run_dir, resumed)
    if resumed and args.init_from:
        raise SystemExit(f"--init-from starts a new run from another run's weights, but a resumed run ({os.path.basename(os.path.abspath(args.resume))}) continues from its own checkpoint: leave out one of the two")
    if resumed:
        if ctx.run.config is None:
            raise SystemExit(f"{run_dir}: not a run folder (no readable config.json)")
        if ctx.run.config.get("engine") != "pytorch":
            raise SystemExit(f"{run_dir} was trained by the {ctx.run.config.get('engine', 'tfjs')} engine: resume it with latent-studio train --resume")
        keep_overrides(args, ctx.run.config.get("overrides", {}))
    stages = stage_plan(args)
    meta = None
    resume_state = None
    if resumed:
        meta, arrays, state = load_checkpoint(run_dir)
        if all(d >= s["epochs"] or s.get("skipped") for d, s in zip(epochs_done(stages, meta), stages)):
            raise SystemExit(f"{run_dir} finished all {meta['epochsCompleted']} epochs; nothing to resume")
        graph_models.load_tfjs_weights(ctx.models, os.path.join(run_dir, "checkpoint", "checkpoint.json"))
        resume_state = {"state": state, "order": arrays.get("state/order")}
        if state is not None:
            torch.set_rng_state(state["torchRng"])
    elif args.init_from:
        init_from(ctx, args.init_from)
        ctx.init_from = os.path.abspath(args.init_from)
    elif CONFIG.get("initFrom") and not has_start_weights(args):
        # The graph's starting weights (training.initFrom, relative to the graph file), as Latent Studio's engine takes them.
        start = os.path.abspath(os.path.join(CONFIG["dataDir"], CONFIG["initFrom"]))
        init_from(ctx, start, f'training.initFrom "{CONFIG["initFrom"]}" (in {CONFIG["graphFile"]})')
        ctx.init_from = start
    else:
        load_start_weights(ctx, args)
    ctx.epochs_completed = meta["epochsCompleted"] if meta else 0
    ctx.best_val_loss = meta["bestValLoss"] if meta else None
    ctx.rng = Mulberry32(CONFIG["seed"] ^ 0x5EED)
    if meta:
        ctx.rng.state = meta["rngState"]
    try:
        prepare_data(ctx, args)
        ctx.feeder = Feeder(ctx.ds, ctx.norm, ctx.dist.device, CONFIG["inputShape"])
        for s in stages:
            s["classes"] = ctx.ds.num_classes if s["target"] == "labels" else 0
        if resumed:
            restore_pretrained(ctx, stages, meta)
        if ctx.dist.main:
            if not resumed:
                write_atomic(ctx.run.path("graph.latent.json"), GRAPH_TEXT)
                ctx.run.trim_metrics(lambda r: False)
            else:
                ctx.run.trim_metrics(lambda r: r["stageIndex"] < meta["stageIndex"] or (r["stageIndex"] == meta["stageIndex"] and r["epoch"] <= meta["stageEpoch"]))
            write_json(ctx.run.path("normalization.json"), ctx.norm)
            write_config(ctx, args, stages, resumed)
            ctx.run.write_status(status="running", graphName=CONFIG["graphName"], startedAt=(ctx.run.status or {}).get("startedAt", now_iso()), backend="pytorch", epochsCompleted=ctx.epochs_completed, bestValLoss=ctx.best_val_loss, pid=os.getpid(), endedAt=None, error=None)
            ctx.events.emit("started", f"Training {CONFIG['graphName']} on {describe_device(ctx.feeder.device)}{f' x {ctx.dist.world}' if ctx.dist.world > 1 else ''}: {len(ctx.train_idx)} train / {len(ctx.validation_idx)} validation samples -> {run_dir}",
                            runDir=run_dir, device=describe_device(ctx.feeder.device), worldSize=ctx.dist.world, torch=torch.__version__,
                            dataset={"source": ctx.ds.source, "train": len(ctx.train_idx), "validation": len(ctx.validation_idx), "test": len(ctx.test_idx), "skipped": ctx.ds.skipped},
                            stages=[{"name": s["name"], "kind": s["kind"], "epochs": stage_epochs(i, s), "batchesPerEpoch": -(-len(rank_share(ctx.train_idx, 0, ctx.dist.world)) // s["batchSize"]), "outputId": s["outputId"], **({"loss": s["loss"]} if s["kind"] == "fit" else {}), **({"skipped": s["skipped"]} if s.get("skipped") else {}), **({"resumedAfterEpoch": d} if resumed else {})} for i, (s, d) in enumerate(zip(stages, epochs_done(stages, meta)))])
        done = epochs_done(stages, meta)
        stopped = False
        last_model = None  # the model the run trained last: written as model/
        for i, stage in enumerate(stages):
            if stage.get("skipped"):
                ctx.events.emit("log", f"Stage \"{stage['name']}\" skipped: {stage['skipped']}.", level="info", message=f"Stage \"{stage['name']}\" skipped: {stage['skipped']}.")
                continue
            if stage["kind"] == "layerwise":
                # A layer-wise stage checkpoints only once it has finished: done, or run again whole.
                if done[i] < stage["epochs"] and run_layerwise_stage(ctx, i, stage):
                    stopped = True
                    break
                last_model = (LAYERWISE.get(i) or {}).get("headModel") or last_model
                continue
            last_model = stage["model"]
            # Finished before the run was interrupted (a stage of 0 epochs is finished once checkpointed).
            if done[i] >= stage["epochs"] and (stage["epochs"] > 0 or (meta is not None and i <= meta["stageIndex"])):
                continue
            if run_fit_stage(ctx, i, stage, done[i], resume_state if i == (meta or {}).get("stageIndex") else None):
                stopped = True
                break
        if not stopped:
            score_pretrained_after(ctx)
        if ctx.dist.main:
            write_atomic(ctx.run.path("model.pt"), torch_bytes(ctx.layers.state_dict()))
            if last_model is not None:
                try:
                    write_tfjs_model(ctx, last_model)
                except (OSError, ValueError) as e:  # the run trained: a missing picture of it must not fail it
                    message = f"model/ (the TensorFlow.js layers format) was not written: {e}"
                    ctx.events.emit("log", message, level="warn", message=message)
            ctx.run.write_status(status="stopped" if stopped else "completed", endedAt=now_iso(), epochsCompleted=ctx.epochs_completed, bestValLoss=ctx.best_val_loss, pid=None)
            ctx.events.emit("done", f"{'Stopped' if stopped else 'Finished'} after {ctx.epochs_completed} epochs: {run_dir}", runDir=run_dir, stopped=stopped, epochsCompleted=ctx.epochs_completed, bestValLoss=ctx.best_val_loss)
    except (TrainingFailed, SystemExit, ValueError, RuntimeError, RunWriteError) as e:
        message = str(e)
        kept = {}
        if isinstance(e, RunWriteError) and ctx.run:
            manifest = read_json(os.path.join(ctx.run.path("checkpoint"), "checkpoint.json")) if os.path.isdir(ctx.run.path("checkpoint")) else None
            checkpointed = (manifest or {}).get("epochsCompleted", 0)
            kept = {"epochsCompleted": checkpointed, "bestValLoss": (manifest or {}).get("bestValLoss")}
            message = f"{message}. {write_advice(e, checkpointed)}"
        if ctx.dist.main and ctx.run and os.path.exists(ctx.run.path("run.json")):
            try:
                ctx.run.write_status(status="failed", endedAt=now_iso(), error=message, pid=None, **kept)
            except RunWriteError as again:
                message = f"{message} (run.json could not be updated either: {again})"
        ctx.events.emit("failed", None, runDir=run_dir, message=message)
        raise SystemExit(message if not isinstance(e, RuntimeError) else f"PyTorch failed: {message}")
    finally:
        ctx.dist.close()
        if getattr(ctx, "lock", None):
            release_run(ctx.lock["path"], ctx.lock["token"])


def evaluate_main(args):
    """--evaluate: the test (or validation) loss and metrics of the weights, the JSON of latent-studio evaluate --json."""
    run_dir = os.path.abspath(args.run) if args.run else None
    ctx = setup(args, run_dir, True)
    stages = stage_plan(args)
    if run_dir:
        meta, _, _ = load_checkpoint(run_dir)
        graph_models.load_tfjs_weights(ctx.models, os.path.join(run_dir, "checkpoint", "checkpoint.json"))
        fit = [i for i, s in enumerate(stages) if s["kind"] == "fit"]
        stage_index = ([i for i in fit if i <= meta["stageIndex"]] or fit)[-1]
    else:
        if CONFIG.get("initFrom") and not has_start_weights(args):
            init_from(ctx, os.path.abspath(os.path.join(CONFIG["dataDir"], CONFIG["initFrom"])), f'training.initFrom "{CONFIG["initFrom"]}" (in {CONFIG["graphFile"]})')
        else:
            load_start_weights(ctx, args)
        stage_index = [i for i, s in enumerate(stages) if s["kind"] == "fit"][-1]
    stage = stages[stage_index]
    prepare_data(ctx, args)
    ctx.feeder = Feeder(ctx.ds, ctx.norm, ctx.dist.device, CONFIG["inputShape"])
    stage["classes"] = ctx.ds.num_classes if stage["target"] == "labels" else 0
    idx = ctx.test_idx if args.split == "test" else ctx.validation_idx
    if args.eval_limit:
        idx = idx[: args.eval_limit]
    loss, metrics, confusion = score_split(ctx, stage, ctx.models[stage["model"]], idx)
    result = {"runDir": run_dir or HERE, "split": args.split, "dataset": ctx.ds.source, "samples": len(idx), "stage": stage["name"], "outputId": stage["outputId"], "target": stage["target"], "lossName": stage["loss"], "loss": loss, "metrics": metrics, "backend": "pytorch", "evaluatedAt": now_iso()}
    if confusion is not None:
        result["classifier"] = {"classNames": class_names(ctx.ds, stage["classes"]), "confusion": confusion}
    print(json.dumps(result))


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0")
    return value


def stage_list(text):
    if text.strip() == "all":
        return None
    names = [n.strip() for n in text.split(",")]
    if any(n == "" for n in names):
        raise argparse.ArgumentTypeError('--stage takes "all" or stage names separated by commas, e.g. autoencoder,classifier')
    return names


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=f"Train {CONFIG['graphName']} with PyTorch as Latent Studio trains it, into a Latent Studio run folder.")
    p.add_argument("--epochs", type=non_negative_int, help="epochs per stage (overrides the graph); 0 scores the starting weights and keeps them as the run's checkpoint, untrained")
    p.add_argument("--batch-size", type=positive_int, help="batch size per process (overrides the graph)")
    p.add_argument("--limit", type=positive_int, help="train on at most n samples (quick checks)")
    p.add_argument("--out", default=os.path.join(".latent", "runs"), help="folder for run folders (default ./.latent/runs)")
    p.add_argument("--run-dir", help="write the run into this (empty) folder instead of a new one under --out")
    p.add_argument("--device", help="cuda, cuda:1, mps or cpu (default: the best there is)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or failed run from its checkpoint")
    p.add_argument("--data", help="another dataset, as training.dataset says it (e.g. npz:data.npz)")
    p.add_argument("--label-column", help="a CSV table's label column")
    p.add_argument("--stage", dest="stages", type=stage_list, help="train only these stages (comma-separated names, or all); the others are skipped")
    p.add_argument("--init-from", metavar="RUN_DIR", help="start from another run's checkpoint: the layers whose names and shapes match (e.g. --stage classifier --init-from <autoencoder run>)")
    p.add_argument("--weights", help="start from this weights manifest (default: weights.json beside train.py, if there)")
    p.add_argument("--builtin-dir", help="folder with mnist.npz / fashion-mnist.npz (default: beside train.py)")
    p.add_argument("--evaluate", action="store_true", help="print the test loss and metrics of the weights (--run's checkpoint, else --weights / weights.json, else the graph's training.initFrom) as JSON")
    p.add_argument("--run", help="with --evaluate: a run folder")
    p.add_argument("--split", choices=["test", "validation"], default="test", help="with --evaluate: which split")
    p.add_argument("--eval-limit", type=positive_int, help="with --evaluate: score at most n samples")
    p.add_argument("--threads", type=positive_int, help="torch.set_num_threads on the CPU (default: torch's own choice)")
    p.add_argument("--json", action="store_true", help="one JSON object per event on stdout (what Latent Studio reads)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    signal.signal(signal.SIGINT, request_stop)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, request_stop)
    if args.evaluate:
        evaluate_main(args)
    else:
        train_main(args)


if __name__ == "__main__":
    main()
`);
