"""Companies, dated exposure facts, classification, the Chinese-exposure score and screens.

Public API: ``load_companies``, ``load_facts``, ``load_shares``, ``load_stage_facts`` (validated
loaders),
``facts_in_force``, ``classify_stages``, ``score_companies``, ``explain`` (fact-by-fact breakdown)
and ``build_universe`` (eligibility at a date), configured by ``UniverseRules`` and
``ChinaScoreRules``. The method is documented in ``docs/exposure-methodology.md``.
"""

from exchina.universe.explain import Explanation, explain
from exchina.universe.facts import annotate_facts, facts_in_force
from exchina.universe.inputs import UniverseInputs, shares_in_force
from exchina.universe.loaders import load_companies, load_facts, load_shares, load_stage_facts
from exchina.universe.rules import ChinaScoreRules, UniverseRules
from exchina.universe.score import score_companies
from exchina.universe.screens import build_universe
from exchina.universe.stages import classify_stages

__all__ = [
    "ChinaScoreRules",
    "Explanation",
    "UniverseInputs",
    "UniverseRules",
    "annotate_facts",
    "build_universe",
    "classify_stages",
    "explain",
    "facts_in_force",
    "load_companies",
    "load_facts",
    "load_shares",
    "load_stage_facts",
    "score_companies",
    "shares_in_force",
]
