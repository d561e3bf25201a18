"""The agent benchmark's data and questions: a seeded sales CSV and questions with one
checkable answer each, computed from the same rows (no pandas needed here)."""

from __future__ import annotations

import csv
import random
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REGIONS = ("North", "South", "East", "West")
PRODUCTS = ("apples", "bread", "cheese", "dates", "eggs")
COLUMNS = ("order_id", "region", "product", "price", "quantity")
ROWS = 80
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
MAX_ANSWER_LINES = 3  # an output counts as a printed answer only when it is this short


@dataclass(frozen=True)
class Task:
    id: str
    question: str
    answer: str  # a number or a name
    choices: tuple[str, ...] = ()  # names: the other candidates, none of which may appear

    def matches(self, output: str) -> bool:
        """A short output that states the answer (names: and no other candidate)."""
        lines = [x for x in output.splitlines() if x.strip()]
        if not lines or len(lines) > MAX_ANSWER_LINES:
            return False
        text = " ".join(lines)
        if self.choices:
            found = {c for c in self.choices if re.search(rf"\b{re.escape(c)}\b", text, re.I)}
            return found == {self.answer}
        want = float(self.answer)
        for m in NUMBER.findall(text):
            got = float(m.replace(",", ""))
            if abs(got - want) <= max(0.01, abs(want) * 1e-4):
                return True
        return False


def rows(seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(ROWS):
        out.append(
            {
                "order_id": 1000 + i,
                "region": rng.choice(REGIONS),
                "product": rng.choice(PRODUCTS),
                "price": round(rng.uniform(1, 50), 2),
                "quantity": rng.randint(1, 20),
            }
        )
    return out


def write_csv(path: Path, data: list[dict[str, object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(data)


def _num(x: float) -> str:
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")


def tasks(data: list[dict[str, object]]) -> list[Task]:
    price = [float(r["price"]) for r in data]  # type: ignore[arg-type]
    qty = [int(r["quantity"]) for r in data]  # type: ignore[call-overload]
    median = statistics.median(price)
    revenue: dict[str, float] = defaultdict(float)
    for r in data:
        revenue[str(r["region"])] += float(r["price"]) * int(r["quantity"])  # type: ignore[arg-type, call-overload]
    by_product: dict[str, list[float]] = defaultdict(list)
    for r in data:
        by_product[str(r["product"])].append(float(r["price"]))  # type: ignore[arg-type]
    orders = Counter(str(r["region"]) for r in data)
    south_qty = sum(int(r["quantity"]) for r in data if r["region"] == "South")  # type: ignore[call-overload]
    cheese_qty = sum(int(r["quantity"]) for r in data if r["product"] == "cheese")  # type: ignore[call-overload]
    east = [float(r["price"]) for r in data if r["region"] == "East"]  # type: ignore[arg-type]
    best = lambda d: max(d, key=lambda k: d[k])  # noqa: E731
    return [
        Task("rows", "How many rows does the file have?", str(len(data))),
        Task("above_median", "How many rows have a price above the median price?", str(sum(p > median for p in price))),
        Task("top_revenue_region", "Which region has the largest total revenue (price times quantity)?", best(revenue), REGIONS),
        Task("mean_quantity", "What is the mean quantity, rounded to 2 decimals?", _num(statistics.mean(qty))),
        Task(
            "priciest_product", "Which product has the highest average price?", best({k: statistics.mean(v) for k, v in by_product.items()}), PRODUCTS
        ),
        Task("max_price", "What is the highest price?", _num(max(price))),
        Task("north_orders", "How many orders come from the North region?", str(orders["North"])),
        Task("south_quantity", "What is the total quantity sold in the South region?", str(south_qty)),
        Task("most_orders_region", "Which region has the most orders?", best(orders), REGIONS),
        Task("cheese_quantity", "What is the total quantity of cheese sold?", str(cheese_qty)),
        Task("total_revenue", "What is the total revenue (the sum of price times quantity), rounded to 2 decimals?", _num(sum(revenue.values()))),
        Task("east_mean_price", "What is the average price in the East region, rounded to 2 decimals?", _num(statistics.mean(east))),
    ]
