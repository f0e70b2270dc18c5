"""Generated analyst-report sentences: the texts the inference benchmark sends (and bench/request_size measures
characters per token on). Deterministic for a seed, so every run and every machine sends the same requests.
"""

from __future__ import annotations

import random

COMPANIES = [
    "Nokia", "Stora Enso", "Apple", "Siemens", "Unilever", "Tesla", "HSBC", "Nestle", "Kone", "Fortum",
    "Wartsila", "Volvo", "Ericsson", "BASF", "Shell", "Alphabet", "Danone", "Santander", "Orion", "Elisa",
]  # fmt: skip
METRICS = [
    "net sales", "operating profit", "revenue", "EBITDA", "net income", "earnings per share", "free cash flow",
    "gross margin", "order intake", "pre-tax profit", "comparable sales", "operating margin",
]  # fmt: skip
UP = ["rose", "increased", "grew", "climbed", "jumped", "improved", "surged", "edged up"]
DOWN = ["fell", "decreased", "declined", "dropped", "slumped", "weakened", "contracted", "slipped"]
PERIODS = ["in the third quarter", "in 2025", "in the first half", "year-on-year", "in the fourth quarter of 2024"]
CURRENCIES = ["EUR", "USD", "SEK", "GBP"]
SHORT = [
    "Shares were flat.",
    "{c} cut its dividend.",
    "{c} shares rallied {p}%.",
    "The outlook is unchanged.",
    "{c} beat estimates.",
    "Guidance was withdrawn.",
    "{c} reported a net loss.",
    "Margins held steady.",
]
CLAUSES = [
    "driven by strong demand in Asia",
    "mainly due to higher raw material costs",
    "as restructuring charges weighed on results",
    "supported by favourable currency effects",
    "despite a challenging market environment",
    "reflecting lower volumes in the packaging segment",
    "while the order backlog remained at a record level",
    "following the divestment of the paper business",
    "which analysts had not expected",
    "according to the company's interim report",
]
OUTLOOKS = [
    "The company expects {m} to {dir} in {y}.",
    "{c} reiterated its full-year guidance and expects {m} to {dir} compared with the previous year.",
    "Management said that the market outlook for the rest of the year remains uncertain.",
    "{c} will propose a dividend of {cur} {d:.2f} per share to the annual general meeting.",
]


def financial_sentences(n: int, *, seed: int = 7) -> list[str]:
    """`n` varied, realistic analyst-report sentences (deterministic for a seed), short to long."""
    rng = random.Random(seed)

    def metric_change() -> str:
        currency, unit = rng.choice(CURRENCIES), rng.choice(["mn", "million", "bn"])
        now, before = rng.uniform(1, 950), rng.uniform(1, 950)
        direction = rng.choice(UP if now > before else DOWN)
        return (
            f"{rng.choice(METRICS)} {direction} to {currency} {now:.1f} {unit} from {currency} {before:.1f} {unit} "
            + (rng.choice(PERIODS))
        )

    sentences = []
    for _ in range(n):
        kind = rng.random()
        company = rng.choice(COMPANIES)
        if kind < 0.3:
            text = rng.choice(SHORT).format(c=company, p=rng.randint(2, 19))
        elif kind < 0.9:
            text = f"{company}'s {metric_change()}, {rng.choice(CLAUSES)}."
            if rng.random() < 0.4:
                text += " " + rng.choice(OUTLOOKS).format(
                    c=company,
                    m=rng.choice(METRICS),
                    dir=rng.choice(["increase", "decrease", "remain stable", "grow slightly"]),
                    y=rng.choice(["2026", "2027"]),
                    cur=rng.choice(CURRENCIES),
                    d=rng.uniform(0.1, 3.5),
                )
        else:
            parts = [f"In its interim report, {company} said that {metric_change()}, {rng.choice(CLAUSES)}"]
            for _ in range(rng.randint(1, 2)):
                parts.append(f"while {metric_change()}, {rng.choice(CLAUSES)}")
            text = ", ".join(parts) + "."
        sentences.append(text)
    return sentences
