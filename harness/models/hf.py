"""`hf:<hub id or folder>`: a causal LM run in this process with transformers, batched, left-padded.

Where the model comes from
    A folder that exists is loaded from disk. Anything else is a hub id (`org/name`), pinned with
    `--model-arg revision=<branch, tag or commit>` (default `main`). The branch or tag is resolved to its
    commit before loading, and that commit is what gets loaded and what the run's record and the response
    cache keys carry. Online, missing files are downloaded into the Hugging Face cache; offline
    (`HF_HUB_OFFLINE=1`, or the hub unreachable) only the cache is used, and a model that is not there is a
    ModelError at start-up that says so. A local folder is identified by a sha256 of its files' contents
    (weights included, memoised by size and mtime in ~/.cache/harness/file-digests.json), so retraining into
    the same folder invalidates cached responses.

Options (`--model-arg KEY=VALUE`)
    dtype              auto | float32 | bfloat16 | float16. auto: float32 on the CPU (half precision is slow
                       or unsupported there), the checkpoint's own dtype on a GPU.
    device             auto | cpu | cuda | cuda:N | mps. auto: cuda when available, else cpu.
    revision           hub branch, tag or commit (hub ids only).
    batch_size         sequences generated together (default 16 on the CPU, 64 on a GPU). Lower it after
                       an out-of-memory failure.
    trust_remote_code  false (default) | true: run the repository's own modelling code.
    chat_template      auto (default: the tokenizer's chat template when it has one, else the prompt's plain
                       text) | none (always the plain text, for base models).
    top_k              sample among the k likeliest tokens only (default: no limit).

Generation: greedy when temperature is 0 (each prompt is generated once and copied to every requested
index), else sampling with temperature and top_p; `--seed` seeds torch before each batch. `--max-tokens`
defaults to 1024 new tokens. Stop sequences end a sequence early (transformers' `stop_strings`) and the
text is cut before the first one. Prompts are sorted by length before batching so padding stays small.
Usage per response: `prompt_tokens`, `completion_tokens`, and `truncated: 1` when the token budget ran out.
A failing batch (out of memory, say) fails only its own sequences, as `Response.failed(reason)`.

torch and transformers are imported only when a model is built; the helpers at the top (options, model
location, fingerprints, prompt rendering, stop handling) are shared with the `vllm` backend.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..paths import cache_dir
from ..task import file_sha256
from ..types import GenParams, Prompt, Request, Response
from .base import ModelAdapter, ModelError, redact
from .retry import POLICY_KEYS

DEFAULT_MAX_TOKENS = 1024
DTYPES = ("auto", "float32", "bfloat16", "float16")
HF_KEYS = ("dtype", "device", "revision", "batch_size", "trust_remote_code", "chat_template", "top_k")
INSTALL_HINT = ("pip install 'harness[hf]' (on a machine without a GPU, `pip install torch==<version>` from the "
                "CPU index first, so pip does not pull a CUDA build)")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


# --- options --------------------------------------------------------------------------------------------
def parse_options(extra: Iterable[tuple[str, str]], known: Sequence[str], spec: str) -> dict[str, str]:
    """The `--model-arg` pairs as a dict; a key this backend does not know is an error (a typo would
    otherwise be silently ignored). The retry keys of the API backends are tolerated and ignored."""
    opts = dict(extra)
    unknown = sorted(k for k in opts if k not in known and k not in POLICY_KEYS)
    if unknown:
        raise ModelError(f"model {spec!r}: unknown --model-arg {', '.join(unknown)}; "
                         f"this backend takes {', '.join(known)}")
    return opts


def bool_option(opts: dict[str, str], key: str, default: bool, spec: str) -> bool:
    raw = opts.get(key)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ModelError(f"model {spec!r}: --model-arg {key}={raw!r}: expected true or false")


def int_option(opts: dict[str, str], key: str, default: int | None, spec: str, minimum: int = 1) -> int | None:
    raw = opts.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ModelError(f"model {spec!r}: --model-arg {key}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ModelError(f"model {spec!r}: --model-arg {key}={raw!r}: must be at least {minimum}")
    return value


def choice_option(opts: dict[str, str], key: str, choices: Sequence[str], spec: str) -> str:
    value = opts.get(key, choices[0])
    if value not in choices:
        raise ModelError(f"model {spec!r}: --model-arg {key}={value!r}: expected one of {', '.join(choices)}")
    return value


# --- where the model is, and what identifies it ---------------------------------------------------------
@dataclass(frozen=True)
class ModelSource:
    """A model located on disk or on the hub. `load_ref` is what from_pretrained gets (a folder, or the hub
    id with `revision` a commit); `revision` identifies the weights (a commit, or `sha256:` of a folder)."""

    name: str
    load_ref: str
    revision: str
    local: bool
    load_revision: str | None = None


def hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    try:
        from huggingface_hub import constants
        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - transformers always brings huggingface_hub
        return False


def locate_model(name: str, revision: str | None, spec: str) -> ModelSource:
    """Find the model: an existing folder, or a hub id resolved to a commit (online: asking the hub;
    offline or unreachable: from the local cache). Raises ModelError saying what to do when it is neither."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"model {spec!r}: folder {path} has no config.json; give a folder written by "
                             f"save_pretrained (or a hub id)")
        return ModelSource(name, str(path.resolve()), "sha256:" + folder_digest(path), local=True)
    if name.startswith((".", "/", "~")) or path.suffix in (".safetensors", ".bin", ".gguf") or name.count("/") > 1:
        raise ModelError(f"model {spec!r}: no such folder {path}; give a folder written by save_pretrained, "
                         f"or a hub id such as Qwen/Qwen2.5-Coder-0.5B-Instruct")
    wanted = revision or "main"
    commit = None if hub_offline() else _hub_commit(name, wanted)
    if commit is None:
        commit = _cached_commit(name, wanted)
    if commit is None:
        where = "offline (HF_HUB_OFFLINE is set)" if hub_offline() else "the hub is unreachable"
        raise ModelError(
            f"model {name!r} (revision {wanted}) is not in the local cache and {where}; download it first "
            f"(`hf download {name}" + (f" --revision {revision}" if revision else "") + "` while online) "
            "or give a local folder")
    return ModelSource(name, name, commit, local=False, load_revision=commit)


def _hub_commit(repo: str, revision: str) -> str | None:
    """The commit the hub has for this branch or tag; None when the hub cannot be reached. A repository
    or revision the hub says does not exist is a ModelError (no cache would help)."""
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.utils import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError as exc:
        raise ModelError(f"model {repo!r}: huggingface_hub is not installed; {INSTALL_HINT}") from exc
    try:
        return HfApi().model_info(repo, revision=revision).sha
    except RevisionNotFoundError as exc:
        raise ModelError(f"model {repo!r}: the hub has no revision {revision!r}") from exc
    except RepositoryNotFoundError as exc:
        raise ModelError(f"model {repo!r}: no such model on the hub (or it is gated/private and no HF_TOKEN "
                         f"is set); check the id, or give a local folder") from exc
    except Exception:  # network down, proxy, timeout: fall back to the cache like transformers does
        return None


def _cached_commit(repo: str, revision: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo, "config.json", revision=revision)
    if not isinstance(found, str):
        return None
    parent = Path(found).parent.name  # .../snapshots/<commit>/config.json
    return parent if _COMMIT.match(parent) else None


_DIGEST_LOCK = threading.Lock()


def _digest_memo_path() -> Path:
    return cache_dir() / "file-digests.json"


def file_digest(path: Path, memo: dict[str, Any]) -> str:
    """sha256 of a file's bytes, memoised by (real path, size, mtime): weights are hashed once, not per run."""
    st = path.stat()
    key = str(path.resolve())
    hit = memo.get(key)
    if hit and hit.get("size") == st.st_size and hit.get("mtime_ns") == st.st_mtime_ns:
        return hit["sha256"]
    memo[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": file_sha256(path)}
    return memo[key]["sha256"]


def folder_digest(folder: Path) -> str:
    """One sha256 over every file of a model folder (name and content), so any change to weights, config,
    tokenizer or chat template gives another fingerprint."""
    memo_path = _digest_memo_path()
    with _DIGEST_LOCK:
        try:
            memo = json.loads(memo_path.read_text())
        except (OSError, ValueError):
            memo = {}
        before = len(json.dumps(memo))
        h = hashlib.sha256()
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            h.update(f.relative_to(folder).as_posix().encode() + b"\0" + file_digest(f, memo).encode() + b"\n")
        if len(json.dumps(memo)) != before:
            try:
                memo_path.parent.mkdir(parents=True, exist_ok=True)
                tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(memo))
                tmp.replace(memo_path)
            except OSError:  # a read-only home only costs re-hashing next time
                pass
    return h.hexdigest()


# --- prompts and stops ------------------------------------------------------------------------------------
def render_prompt(tokenizer: Any, prompt: Prompt, use_template: bool) -> list[int]:
    """Token ids for a prompt: through the tokenizer's chat template (generation prompt added), else the
    prompt's plain text with the tokenizer's usual special tokens. A template that refuses a system message
    (some do) gets it folded into the first user message instead."""
    if not use_template:
        return list(tokenizer(prompt.text, add_special_tokens=True)["input_ids"])
    messages = prompt.as_openai()
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:
        if not messages or messages[0]["role"] != "system" or len(messages) < 2:
            raise
        merged = [{"role": messages[1]["role"], "content": messages[0]["content"] + "\n\n" + messages[1]["content"]},
                  *messages[2:]]
        text = tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def template_fingerprint(tokenizer: Any, use_template: bool) -> str:
    template = getattr(tokenizer, "chat_template", None) if use_template else None
    if not template:
        return "none"
    blob = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """The text before the earliest stop sequence, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


# --- the adapter ---------------------------------------------------------------------------------------------
def _import_torch() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ModelError(f"the hf backend needs torch and transformers ({exc.name} is missing): {INSTALL_HINT}") from exc
    return torch, transformers


@dataclass
class _Row:
    """One sequence to generate: request `req`, the positions in its output list it fills, its prompt ids."""

    req: int
    slots: tuple[int, ...]
    ids: list[int]


class HFModel(ModelAdapter):
    batch_size = 64  # requests per generate() call; sequences per forward pass is the batch_size option
    concurrency = 1  # one model, one stream of batches: threads would only fight over it

    def __init__(self, spec: str, params: GenParams, name: str):
        super().__init__(spec, params)
        torch, transformers = _import_torch()
        self._torch = torch
        opts = parse_options(params.extra, HF_KEYS, spec)
        self.device = self._pick_device(opts.get("device", "auto"))
        self.dtype_name = self._pick_dtype(choice_option(opts, "dtype", DTYPES, spec))
        self.rows_per_batch = int_option(opts, "batch_size", 16 if self.device == "cpu" else 64, spec)
        self.batch_size = max(HFModel.batch_size, 4 * self.rows_per_batch)
        self.top_k = int_option(opts, "top_k", None, spec, minimum=0)
        trust = bool_option(opts, "trust_remote_code", False, spec)
        template_mode = choice_option(opts, "chat_template", ("auto", "none"), spec)
        self.source = locate_model(name, opts.get("revision"), spec)
        if self.source.local and "revision" in opts:
            raise ModelError(f"model {spec!r}: revision applies to hub ids only, and {name} is a local folder")
        self.tokenizer, self.model = self._load(transformers, trust)
        self.use_template = template_mode == "auto" and bool(getattr(self.tokenizer, "chat_template", None))
        self.eos_ids = self._eos_ids()
        self.pad_id = self._pad_id()
        self._fingerprint = {"spec": spec, "backend": "hf", "model": name, "revision": self.source.revision,
                             "dtype": str(self.model.dtype).removeprefix("torch."),
                             "chat_template": template_fingerprint(self.tokenizer, self.use_template)}

    # --- set-up ----------------------------------------------------------------------------------------
    def _pick_device(self, device: str) -> str:
        torch = self._torch
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"model {self.spec!r}: device={device} but torch sees no CUDA GPU "
                             f"(torch {torch.__version__}); use device=cpu, or install a CUDA build of torch")
        if device == "mps" and not torch.backends.mps.is_available():
            raise ModelError(f"model {self.spec!r}: device=mps but this torch has no MPS support")
        if not (device in ("cpu", "mps") or re.fullmatch(r"cuda(:\d+)?", device)):
            raise ModelError(f"model {self.spec!r}: --model-arg device={device!r}: expected auto, cpu, cuda, "
                             f"cuda:N or mps")
        return device

    def _pick_dtype(self, dtype: str) -> str:
        if dtype != "auto":
            return dtype
        return "float32" if self.device == "cpu" else "auto"

    def _load(self, transformers: Any, trust: bool) -> tuple[Any, Any]:
        src = self.source
        common: dict[str, Any] = {"trust_remote_code": trust}
        if not src.local:
            common.update(revision=src.load_revision, local_files_only=hub_offline() or None)
            common = {k: v for k, v in common.items() if v is not None}
        dtype = "auto" if self.dtype_name == "auto" else getattr(self._torch, self.dtype_name)
        dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(src.load_ref, **common)
            model = transformers.AutoModelForCausalLM.from_pretrained(src.load_ref, **common, **{dtype_kw: dtype})
        except (OSError, ValueError) as exc:
            raise ModelError(f"model {self.spec!r}: could not load {src.load_ref}"
                             f"{'' if src.local else ' @ ' + src.revision}: {redact(str(exc)).strip()}") from exc
        model.to(self.device)
        model.eval()
        return tokenizer, model

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        return set(eos if isinstance(eos, list) else [] if eos is None else [eos])

    def _pad_id(self) -> int:
        for candidate in (self.tokenizer.pad_token_id, self.model.generation_config.pad_token_id,
                          min(self.eos_ids) if self.eos_ids else None):
            if candidate is not None:
                return int(candidate)
        return 0  # masked out by the attention mask anyway

    def fingerprint(self) -> dict[str, Any]:
        """Spec, weights revision (hub commit or folder sha256), dtype and chat template: what can change
        the answers, so any change gives new response cache keys."""
        return dict(self._fingerprint)

    # --- generation ------------------------------------------------------------------------------------
    def generate(self, requests: list[Request]) -> list[list[Response]]:
        out: list[list[Response | None]] = [[None] * len(r.indices) for r in requests]
        rows: list[_Row] = []
        greedy = self.params.temperature == 0
        for ri, req in enumerate(requests):
            try:
                ids = render_prompt(self.tokenizer, req.prompt, self.use_template)
            except Exception as exc:  # a template that rejects these messages: ours to fix, not the model's
                out[ri] = [Response.failed(f"could not render the prompt: {type(exc).__name__}: {exc}")] * len(req.indices)
                continue
            slots = range(len(req.indices))
            rows.extend([_Row(ri, tuple(slots), ids)] if greedy else [_Row(ri, (s,), ids) for s in slots])
        rows.sort(key=lambda r: len(r.ids))
        for start in range(0, len(rows), self.rows_per_batch):
            chunk = rows[start:start + self.rows_per_batch]
            try:
                results = self._run_batch([r.ids for r in chunk])
            except Exception as exc:
                results = [Response.failed(self._failure(exc, len(chunk)))] * len(chunk)
            for row, resp in zip(chunk, results):
                for slot in row.slots:
                    out[row.req][slot] = resp
        return [[r if r is not None else Response.failed("no output produced") for r in resps] for resps in out]

    def _failure(self, exc: Exception, rows: int) -> str:
        torch = self._torch
        if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            return (f"out of memory generating {rows} sequences at once; lower --model-arg batch_size "
                    f"(now {self.rows_per_batch}) or --max-tokens")
        return redact(f"generation failed: {type(exc).__name__}: {exc}")

    def _generation_config(self) -> Any:
        p = self.params
        cfg = copy.deepcopy(self.model.generation_config)
        cfg.max_new_tokens = p.max_tokens or DEFAULT_MAX_TOKENS
        cfg.max_length = None
        cfg.pad_token_id = self.pad_id
        cfg.num_return_sequences = 1
        cfg.do_sample = p.temperature > 0
        if cfg.do_sample:
            cfg.temperature = p.temperature
            cfg.top_p = p.top_p if p.top_p is not None else 1.0
            cfg.top_k = self.top_k if self.top_k is not None else 0
        else:  # unset sampling knobs a checkpoint may ship with, so greedy stays greedy and quiet
            cfg.temperature, cfg.top_p, cfg.top_k = None, None, None
        cfg.stop_strings = list(p.stop) or None
        return cfg

    def _run_batch(self, prompts: list[list[int]]) -> list[Response]:
        torch = self._torch
        width = max(len(ids) for ids in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, ids in enumerate(prompts):  # left padding: every prompt ends where generation starts
            if ids:
                input_ids[i, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
                mask[i, width - len(ids):] = 1
        cfg = self._generation_config()
        if self.params.seed is not None and cfg.do_sample:
            torch.manual_seed(self.params.seed)
        kwargs: dict[str, Any] = {"tokenizer": self.tokenizer} if cfg.stop_strings else {}
        with torch.inference_mode():
            generated = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                            generation_config=cfg, **kwargs)
        new = generated[:, width:].tolist()
        return [self._response(len(ids), toks, cfg.max_new_tokens) for ids, toks in zip(prompts, new)]

    def _response(self, prompt_len: int, tokens: list[int], budget: int) -> Response:
        ended = False
        for k, tok in enumerate(tokens):
            if tok in self.eos_ids:
                tokens, ended = tokens[:k + 1], True
                break
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, self.params.stop)
        if stopped and not ended:  # rows that stopped early were padded while the others went on
            while tokens and tokens[-1] == self.pad_id:
                tokens = tokens[:-1]
        usage = {"prompt_tokens": prompt_len, "completion_tokens": len(tokens)}
        if not ended and not stopped and len(tokens) >= budget:
            usage["truncated"] = 1
        return Response(text=text, usage=usage)

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
