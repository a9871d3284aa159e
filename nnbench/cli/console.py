"""The one line a job prints on the console, and its warnings below it."""

from __future__ import annotations

from nnbench.results.labels import label_variants


def console_line(record: dict) -> str:
    """The one line a job prints: what ran, how fast, how well, how it ended."""
    shown = label_variants(record)  # torch+compile, float32+tf32 (the record left as it was)
    head = f"{shown.framework!s:>6} {shown.device!s:<4} {shown.precision!s:<8}"
    if record["status"] == "ok":
        line = (
            f"{head} ok       {record['train_time_per_epoch_s']:.3e} s/epoch  "
            f"test_accuracy {record['test_accuracy']:.4f}  final_train_loss "
            f"{record['final_train_loss']:.6g}"
        )
        if record.get("mfu") is not None:
            line += f"  mfu {record['mfu']:.2f}"
        if record.get("gradient_check"):
            diffs = record["gradient_check"]["max_rel_diff"]
            weights = "  ".join(f"{k} {diffs[k]:.1e}" for k in sorted(diffs) if k[0] == "W")
            line += f"\n{'':>21}gradient vs autograd (max rel diff, seed " \
                    f"{record['gradient_check']['seed']}): {weights}"
        line += _diagnosis(record, ok=True)
        for warning in record.get("warnings", []):
            line += f"\n{'':>21}warning: {warning}"
        return line
    return f"{head} {record['status']:<8} {record['reason']}" + _diagnosis(record, ok=False)


def _diagnosis(record: dict, ok: bool) -> str:
    """Under your network's line (framework=mine): the diagnosis, whole when it found a
    mistake (where it first goes wrong, then the rest), its summary alone when it found none."""
    found = record.get("diagnosis")
    if not found:
        return ""
    lines = [found["summary"]] if ok else found.get("lines", [])
    return "".join(f"\n{'':>21}{'diagnosis: ' if ok else ''}{line}" for line in lines)
