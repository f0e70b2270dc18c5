"""No pickle in the artifact: a revision that has only `pytorch_model.bin` is scanned, read weights-only, and
written as `model.safetensors`, all without torch (the plan job has only the CLI's dependencies).

1. `scan`: picklescan (https://github.com/mmaitre314/picklescan) lists every global the pickle imports and
   refuses the file when one is dangerous (`os.system`, `builtins.exec`, ...).
2. `read_state_dict`: our own `pickle.Unpickler` whose `find_class` allows only what a state dict needs, a subset
   of torch's `weights_only=True` allow-list (torch/_weights_only_unpickler.py `_get_allowed_globals`):
   `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter` and the `torch.*Storage`
   classes. Anything else is refused, so a pickle the scanner missed still runs no code. Tensors come back as
   references into the storages (`data/<key>` in the zip format, the stream after the pickles in the legacy one).
3. `write_safetensors`: the safetensors layout (https://github.com/huggingface/safetensors#format): 8-byte
   little-endian header length, a JSON header (`dtype`, `shape`, `data_offsets` per tensor, `__metadata__`
   {"format": "pt"}) padded with spaces to a multiple of 8, then the raw little-endian bytes. Tensors go in name
   order and the JSON has sorted keys, so the same state dict always gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import IO, Any

from hubdeploy.artifacts.manifest import Manifest, hash_file
from hubdeploy.artifacts.modelfiles import ServingFiles, check_readable
from hubdeploy.errors import ArtifactError

log = logging.getLogger(__name__)

SAFETENSORS_NAME = "model.safetensors"
CONVERTED_NOTE = "converted from {source} (scan clean)"
# torch's legacy storage classes -> (safetensors dtype, bytes per element)
STORAGE_DTYPES: dict[str, tuple[str, int]] = {
    "DoubleStorage": ("F64", 8),
    "FloatStorage": ("F32", 4),
    "HalfStorage": ("F16", 2),
    "BFloat16Storage": ("BF16", 2),
    "LongStorage": ("I64", 8),
    "IntStorage": ("I32", 4),
    "ShortStorage": ("I16", 2),
    "CharStorage": ("I8", 1),
    "ByteStorage": ("U8", 1),
    "BoolStorage": ("BOOL", 1),
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001  # torch/serialization.py PROTOCOL_VERSION
UNSAFE_HINT = "this file would run code when loaded: do not deploy it; pin a revision with model.safetensors"


@dataclass(frozen=True)
class StorageType:
    name: str

    @property
    def dtype(self) -> str:
        return STORAGE_DTYPES[self.name][0]

    @property
    def itemsize(self) -> int:
        return STORAGE_DTYPES[self.name][1]


@dataclass(frozen=True)
class Storage:
    key: str
    type: StorageType
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor as the pickle describes it: a view (offset, shape, stride in elements) into a storage."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


def _rebuild_tensor_v2(
    storage: Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_rest: Any
) -> TensorRef:
    # requires_grad, backward_hooks (an empty OrderedDict in a state dict) and metadata carry no tensor bytes
    return TensorRef(storage=storage, offset=int(offset), shape=tuple(size), stride=tuple(stride))


def _rebuild_parameter(data: TensorRef, *_rest: Any) -> TensorRef:
    return data


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class WeightsUnpickler(pickle.Unpickler):
    """Loads a state dict and nothing else: every global outside ALLOWED_GLOBALS is refused, naming it."""

    def __init__(self, fh: IO[bytes], *, source: str, storage: Callable[[str, StorageType, int], Storage]) -> None:
        super().__init__(fh)
        self.source = source
        self.storage = storage

    def find_class(self, module: str, name: str) -> Any:
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise ArtifactError(
                f"{self.source} imports {module}.{name}, which a weights-only load refuses", hint=UNSAFE_HINT
            )
        return found

    def persistent_load(self, pid: Any) -> Storage:
        # zip: ('storage', type, key, location, numel); legacy adds view_metadata, None for a whole storage
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ArtifactError(f"{self.source} has an unknown persistent id {pid!r}", hint="re-save it with torch")
        kind, key, numel = pid[1], str(pid[2]), pid[4]
        if not isinstance(kind, StorageType) or not isinstance(numel, int) or (len(pid) == 6 and pid[5] is not None):
            raise ArtifactError(f"{self.source} has an unsupported storage {pid[:3]!r}", hint="re-save it with torch")
        return self.storage(key, kind, numel)


@dataclass(frozen=True)
class StateDict:
    """The tensors of a pytorch_model.bin and how to read their storages' bytes."""

    tensors: dict[str, TensorRef]
    read_storage: Callable[[Storage], bytes]


def scan(path: Path) -> None:
    """Refuse `path` unless picklescan parses it and finds no dangerous global.

    Raises:
        ArtifactError: naming the file and the dangerous globals (or that the scan failed).
    """
    from picklescan.scanner import SafetyLevel, scan_file_path

    result = scan_file_path(str(path))
    dangerous = sorted({f"{g.module}.{g.name}" for g in result.globals if g.safety == SafetyLevel.Dangerous})
    if dangerous or result.issues_count:
        raise ArtifactError(
            f"{path.name}: the pickle scanner found dangerous globals: {', '.join(dangerous) or '?'}", hint=UNSAFE_HINT
        )
    if result.scan_err or not result.scanned_files:
        raise ArtifactError(f"{path.name}: the pickle scanner could not read it", hint=UNSAFE_HINT)


def _unpickle(fh: IO[bytes], *, source: str, storage: Callable[[str, StorageType, int], Storage]) -> Any:
    try:
        return WeightsUnpickler(fh, source=source, storage=storage).load()
    except ArtifactError:
        raise
    except Exception as exc:  # a malformed or hostile pickle: any failure is a refusal, never a crash
        raise ArtifactError(f"{source} is not a state dict pickle ({exc})", hint="re-save it with torch") from None


def _check_state_dict(loaded: Any, source: str) -> dict[str, TensorRef]:
    if not isinstance(loaded, dict):
        raise ArtifactError(f"{source} holds a {type(loaded).__name__}, not a state dict", hint=UNSAFE_HINT)
    for name, value in loaded.items():
        if not isinstance(name, str) or not isinstance(value, TensorRef):
            raise ArtifactError(f"{source}: entry {name!r} is not a tensor", hint="save only model.state_dict()")
    return dict(loaded)


def read_state_dict(path: Path) -> StateDict:
    """The tensors of a torch.save'd state dict, zip (torch >= 1.6) or legacy format, without running code."""
    with path.open("rb") as fh:
        is_zip = zipfile.is_zipfile(fh)
    return _read_zip(path) if is_zip else _read_legacy(path)


def _read_zip(path: Path) -> StateDict:
    zf = zipfile.ZipFile(path)
    pickles = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise ArtifactError(f"{path.name} is a zip but not a torch checkpoint (no data.pkl)", hint="re-save it")
    prefix = pickles[0].removesuffix("data.pkl")
    order = prefix + "byteorder"
    if order in zf.namelist() and zf.read(order).strip() != b"little":
        raise ArtifactError(f"{path.name} was saved big-endian", hint="re-save it on a little-endian machine")
    storages: dict[str, Storage] = {}

    def storage(key: str, kind: StorageType, numel: int) -> Storage:
        return storages.setdefault(key, Storage(key, kind, numel))

    with zf.open(pickles[0]) as fh:
        tensors = _check_state_dict(_unpickle(fh, source=path.name, storage=storage), path.name)

    def read(s: Storage) -> bytes:
        try:
            data = zf.read(f"{prefix}data/{s.key}")
        except KeyError:
            raise ArtifactError(f"{path.name} lacks storage data/{s.key}", hint="re-download it") from None
        return data

    return StateDict(tensors=tensors, read_storage=read)


def _read_legacy(path: Path) -> StateDict:
    """torch.save(..., _use_new_zipfile_serialization=False): magic, protocol, sys_info, the state dict, the
    storage keys, then per storage an int64 element count and its bytes (torch/serialization.py `_legacy_load`)."""
    data = path.read_bytes()
    fh = io.BytesIO(data)
    storages: dict[str, Storage] = {}

    def storage(key: str, kind: StorageType, numel: int) -> Storage:
        return storages.setdefault(key, Storage(key, kind, numel))

    def header(what: str) -> Any:
        return _unpickle(fh, source=f"{path.name} ({what})", storage=storage)

    if header("magic number") != LEGACY_MAGIC:
        raise ArtifactError(f"{path.name} is neither a zip nor a legacy torch checkpoint", hint="re-save it")
    if header("protocol") != LEGACY_PROTOCOL:
        raise ArtifactError(f"{path.name} uses an unknown legacy torch protocol", hint="re-save it with torch")
    sys_info = header("sys_info")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise ArtifactError(f"{path.name} was not saved little-endian", hint="re-save it on a little-endian machine")
    tensors = _check_state_dict(header("state dict"), path.name)
    keys = header("storage keys")
    offsets: dict[str, int] = {}
    pos = fh.tell()
    for key in keys if isinstance(keys, list) else []:
        s = storages.get(str(key))
        if s is None or pos + 8 > len(data):
            raise ArtifactError(f"{path.name}: storage {key!r} is missing or cut short", hint="re-download it")
        (numel,) = struct.unpack_from("<q", data, pos)
        offsets[s.key] = pos + 8
        pos += 8 + numel * s.type.itemsize
    if set(offsets) != set(storages) or pos > len(data):
        raise ArtifactError(f"{path.name}: its storages do not match its tensors", hint="re-download it")

    def read(s: Storage) -> bytes:
        return data[offsets[s.key] : offsets[s.key] + s.numel * s.type.itemsize]

    return StateDict(tensors=tensors, read_storage=read)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= max(dim, 1)
    return tuple(reversed(strides))


def tensor_bytes(tensor: TensorRef, storage: bytes, *, name: str) -> bytes:
    """The tensor's elements in row-major order: a slice for a contiguous view, gathered for a strided one."""
    size = tensor.storage.type.itemsize
    if tensor.numel == 0:
        return b""
    if len(tensor.shape) != len(tensor.stride) or any(d < 0 for d in tensor.shape) or tensor.offset < 0:
        raise ArtifactError(f"tensor {name} has an invalid shape/stride", hint="re-save the checkpoint")
    last = tensor.offset + sum((d - 1) * s for d, s in zip(tensor.shape, tensor.stride, strict=True))
    if min(tensor.stride, default=0) < 0 or last >= tensor.storage.numel or len(storage) < tensor.storage.numel * size:
        raise ArtifactError(f"tensor {name} reaches outside its storage", hint="re-download the checkpoint")
    dims = [(d, s) for d, s in zip(tensor.shape, tensor.stride, strict=True) if d != 1]
    if [s for _, s in dims] == list(_contiguous_strides(tuple(d for d, _ in dims))):
        return storage[tensor.offset * size : (tensor.offset + tensor.numel) * size]
    out = bytearray()
    view = memoryview(storage)
    *outer, (inner, inner_stride) = dims
    for index in product(*(range(d) for d, _ in outer)):
        start = tensor.offset + sum(i * s for i, (_, s) in zip(index, outer, strict=True))
        for j in range(inner):
            at = (start + j * inner_stride) * size
            out += view[at : at + size]
    return bytes(out)


def safetensors_chunks(state: StateDict) -> Iterator[bytes]:
    """The safetensors file of `state`, in pieces (header first, then each tensor's bytes in name order).

    Shared storages (tied weights, views of one buffer) become separate copies: safetensors has no aliasing.
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    start = 0
    names = sorted(state.tensors)
    for name in names:
        tensor = state.tensors[name]
        end = start + tensor.numel * tensor.storage.type.itemsize
        header[name] = {"dtype": tensor.storage.type.dtype, "shape": list(tensor.shape), "data_offsets": [start, end]}
        start = end
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    yield struct.pack("<Q", len(raw)) + raw
    cached: tuple[str, bytes] | None = None
    for name in names:
        tensor = state.tensors[name]
        if cached is None or cached[0] != tensor.storage.key:
            cached = (tensor.storage.key, state.read_storage(tensor.storage))
        yield tensor_bytes(tensor, cached[1], name=name)


def convert_bin(source: Path, out: IO[bytes]) -> None:
    """Scan `source` (a pytorch_model.bin), read it weights-only and write it as safetensors to `out`.

    Raises:
        ArtifactError: the scanner or the weights-only unpickler refused it, or it is malformed.
    """
    scan(source)
    state = read_state_dict(source)
    for chunk in safetensors_chunks(state):
        out.write(chunk)
    log.info("converted %s (%d tensors) to %s", source.name, len(state.tensors), SAFETENSORS_NAME)


def pickled_weights(serving: ServingFiles) -> str | None:
    """The one pytorch_model.bin to convert, or None for safetensors weights; sharded .bin is refused."""
    if serving.weights_format != "bin":
        return None
    if serving.weights != ("pytorch_model.bin",):
        raise ArtifactError(
            f"sharded pickled weights ({', '.join(serving.weights)}) are not converted to safetensors",
            hint="pin a revision that has model.safetensors (or a single pytorch_model.bin)",
        )
    return "pytorch_model.bin"


def convert_for_archive(source: Path, target: Path, manifest: Manifest) -> Manifest:
    """Scan and convert `source` into `target`; the manifest records what was converted, and the .bin must be
    the one fetched (same sha256 as the fetch manifest lists)."""
    from importlib.metadata import version

    check_readable(source)
    original = hash_file(source)
    fetched = {f.path: f.sha256 for f in manifest.files}.get(source.name)
    if fetched not in (None, original.sha256):
        raise ArtifactError(
            f"{source.name} changed since it was fetched (sha256 differs from the fetch manifest)",
            hint="run hubdeploy fetch again, then build",
        )
    with target.open("wb") as fh:
        convert_bin(source, fh)
    converted = {"from": source.name, "from_sha256": original.sha256, "scanner": f"picklescan {version('picklescan')}"}
    return dataclasses.replace(manifest, converted=converted)
