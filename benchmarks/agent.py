"""Agent mode on small data tasks: the real loop (tasks/agent.build -> Engine -> finish)
against a real IPython kernel (jupyter_client), auto-run on.

The benchmark writes a seeded sales CSV (agent_tasks.py) into a fresh folder, starts one
kernel per task there, and lets the agent work on the question: each action is applied as
the labextension applies it with auto-run on (a code cell appended below the last one, an
edit replaces its cell, both run; shell escapes never run; ask gets "decide yourself").
After each run its outputs, error and changed variables go into the next step. A task is
solved when a short output of an agent cell states the answer (agent_tasks.Task.matches),
within the step budget (10).

    python -m benchmarks agent --json [--model M] [--limit N] [--threads 2] [--dump steps.jsonl]

The default model is the embedded one; `--model` takes any model the server takes (the
quality benchmark's evaluation GGUF, eval_model.gguf_path(), among them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._common import start_engine
from .agent_tasks import Task, rows, tasks, write_csv

MAX_STEPS = 10
CELL_TIMEOUT_S = 60.0
SHELL = re.compile(r"^\s*(?:!|%pip\b|%conda\b|%%bash\b|%%sh\b|%%script\b|%system\b|%sx\b)", re.M)
VARIABLES = "__import__('jupyter_assist.kernel.variables', fromlist=['for_frontend']).for_frontend()"


def goal(task: Task) -> str:
    return f"The file sales.csv has the columns order_id, region, product, price and quantity. {task.question} Use pandas and print the answer."


class Kernel:
    """One IPython kernel; `run` returns a cell's nbformat outputs and the changed variables."""

    def __init__(self, cwd: Path) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env={**os.environ, "OMP_NUM_THREADS": "1"})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.vars: dict[str, str] = {}
        self.count = 0

    def run(self, code: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        msg_id = self.kc.execute(code, user_expressions={"v": VARIABLES})
        outputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + CELL_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.km.interrupt_kernel()
                deadline = time.monotonic() + 10
                outputs.append({"output_type": "error", "ename": "TimeoutError", "evalue": f"cell ran past {CELL_TIMEOUT_S:.0f} s", "traceback": []})
                continue
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except Exception:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("execute_result", "display_data"):
                outputs.append({"output_type": kind, "data": content["data"], "metadata": {}})
            elif kind == "error":
                outputs.append({"output_type": "error", "ename": content["ename"], "evalue": content["evalue"], "traceback": content["traceback"]})
        reply = self.kc.get_shell_msg(timeout=30)
        self.count += 1
        return outputs, self._changed(reply["content"].get("user_expressions", {}).get("v", {}))

    def _changed(self, expr: dict[str, Any]) -> list[dict[str, str]]:
        try:
            now = {v["name"]: v for v in json.loads(expr["data"]["text/plain"])}
        except (KeyError, TypeError, ValueError):
            return []
        changed = [v for name, v in now.items() if json.dumps(v, sort_keys=True) != self.vars.get(name)]
        self.vars = {name: json.dumps(v, sort_keys=True) for name, v in now.items()}
        return changed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def output_text(outputs: list[dict[str, Any]]) -> str:
    from jupyter_assist.notebook.outputs import outputs_text

    return outputs_text([o for o in outputs if o.get("output_type") != "error"])


async def run_task(engine: Any, task: Task, workdir: Path, index: int) -> dict[str, Any]:
    from jupyter_assist.tasks import TaskSettings, agent
    from jupyter_assist.wire import AgentRequest

    backend = engine.backend
    kernel = Kernel(workdir)
    cells: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    model_s = 0.0
    solved_at: int | None = None
    t0 = time.perf_counter()
    try:
        for n in range(MAX_STEPS):
            body = AgentRequest(request_id=f"agent{index}-{n}", goal=goal(task), cells=cells, steps=steps, max_steps=MAX_STEPS)
            req = agent.build(body, backend.text, TaskSettings()).request
            t1 = time.perf_counter()
            done = None
            async for ev in engine.stream(req):
                if ev.kind == "error":
                    raise RuntimeError(ev.message)
                if ev.kind == "done":
                    done = ev
            model_s += time.perf_counter() - t1
            assert done is not None
            action = agent.finish(body, done.text)["action"]
            kind = action["kind"]
            step: dict[str, Any] = {"kind": kind, "text": action["text"]}
            if kind == "error":  # the model sees what it wrote and why it fit no action
                step["source"] = done.text[:2000]
            if kind in ("code", "edit"):
                source = action["source"]
                if kind == "edit":
                    where = action["cell_index"]
                    cells[where] = {**cells[where], "source": source}
                else:
                    cells.append({"cell_type": "code", "source": source})
                    where = len(cells) - 1
                step.update(source=source, cell_index=where)
                if SHELL.search(source):  # auto-run never runs shell escapes
                    step.update(ran=False, reply="Shell commands are not run automatically; use Python.")
                else:
                    outputs, changed = kernel.run(source)
                    cells[where] = {**cells[where], "outputs": outputs, "execution_count": kernel.count}
                    step.update(ran=True, outputs=outputs, variables=changed)
                    if solved_at is None and (any(task.matches(output_text([o])) for o in outputs) or task.matches(output_text(outputs))):
                        solved_at = n + 1
            elif kind == "markdown":
                cells.append({"cell_type": "markdown", "source": action["source"]})
                step.update(source=action["source"], cell_index=len(cells) - 1)
            elif kind == "ask":
                step["reply"] = "Decide yourself; I cannot answer questions in this run."
            steps.append(step)
            log.append(
                {
                    "step": n + 1,
                    "kind": kind,
                    "answer": done.text,
                    "tokens": done.completion_tokens,
                    "prompt_tokens": done.prompt_tokens,
                    "ran": step.get("ran"),
                    "output": output_text(step.get("outputs", []))[:300],
                    "error": next((o["ename"] for o in step.get("outputs", []) if o.get("output_type") == "error"), None),
                }
            )
            if kind == "done":
                break
    finally:
        kernel.close()
    return {
        "id": task.id,
        "answer": task.answer,
        "solved": solved_at is not None,
        "solved_at_step": solved_at,
        "steps": len(steps),
        "finished": bool(steps) and steps[-1]["kind"] == "done",
        "model_s": round(model_s, 2),
        "wall_s": round(time.perf_counter() - t0, 2),
        "log": log,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks agent")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default="embedded", help="any model the server takes (default: the embedded one)")
    ap.add_argument("--limit", type=int, default=0, help="the first N tasks (0: all)")
    ap.add_argument("--only", default="", help="comma-separated task ids")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dump", help="write each task's steps (answers, outputs) as JSON lines to this file")
    args = ap.parse_args(argv)
    data = rows(args.seed)
    todo = tasks(data)
    if args.only:
        todo = [t for t in todo if t.id in args.only.split(",")]
    if args.limit:
        todo = todo[: args.limit]
    t_start = time.perf_counter()
    engine = start_engine(args.model, args.threads)
    results: list[dict[str, Any]] = []
    dump = open(args.dump, "w", encoding="utf-8") if args.dump else None  # noqa: SIM115 (closed in finally)
    try:
        with tempfile.TemporaryDirectory(prefix="agent-bench-") as tmp:
            write_csv(Path(tmp) / "sales.csv", data)
            for i, task in enumerate(todo):
                r = asyncio.run(run_task(engine, task, Path(tmp), i))
                results.append(r)
                if dump:
                    dump.write(json.dumps(r) + "\n")
                    dump.flush()
                print(
                    f"[{i + 1}/{len(todo)}] {task.id}: {'solved' if r['solved'] else 'not solved'} in {r['steps']} steps "
                    f"(model {r['model_s']} s, wall {r['wall_s']} s) " + " ".join(x["kind"] for x in r["log"]),
                    file=sys.stderr,
                )
    finally:
        engine.shutdown()
        if dump:
            dump.close()
    solved = [r for r in results if r["solved"]]
    out = {
        "model": engine.status.model,
        "device": engine.status.device,
        "dtype": engine.status.dtype,
        "threads": args.threads,
        "seed": args.seed,
        "max_steps": MAX_STEPS,
        "tasks": len(results),
        "solved": len(solved),
        "solved_rate": round(len(solved) / len(results), 3) if results else 0.0,
        "finished_with_done": sum(r["finished"] for r in results),
        "steps_median": statistics.median(r["steps"] for r in results) if results else 0,
        "steps_to_solve_median": statistics.median(r["solved_at_step"] for r in solved) if solved else None,
        "model_s_total": round(sum(r["model_s"] for r in results), 1),
        "wall_s_total": round(sum(r["wall_s"] for r in results), 1),
        "model_s_per_step": round(sum(r["model_s"] for r in results) / max(1, sum(r["steps"] for r in results)), 2),
        "actions": dict(
            sorted({k: sum(x["kind"] == k for r in results for x in r["log"]) for k in ("code", "edit", "markdown", "ask", "done", "error")}.items())
        ),
        "per_task": [{k: v for k, v in r.items() if k != "log"} for r in results],
        "elapsed_s": round(time.perf_counter() - t_start, 1),
    }
    print(json.dumps(out, indent=None if args.json else 2))
    return 0
